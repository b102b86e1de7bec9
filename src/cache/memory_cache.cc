#include "cache/memory_cache.h"

namespace lode::cache {

MemoryCache::MemoryCache(uint64_t budget_bytes)
    : residency_(budget_bytes, 2, HistoryLimit(budget_bytes)) {}

SharedBytes MemoryCache::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  if (!residency_.Touch(key)) return nullptr;
  return values_[key];
}

void MemoryCache::Put(const std::string& key, SharedBytes value) {
  if (!value) return;
  std::lock_guard lock(mu_);
  bool added = residency_.Insert(
      key, value->size(), [this](const std::string& victim, uint64_t) { values_.erase(victim); });
  if (added) values_.emplace(key, std::move(value));
}

uint64_t MemoryCache::bytes() const {
  std::lock_guard lock(mu_);
  return residency_.bytes();
}

}  // namespace lode::cache
