#include "cache/memory_cache.h"

namespace lode::cache {

MemoryCache::MemoryCache(uint64_t budget_bytes)
    : budget_(budget_bytes), policy_(2, static_cast<size_t>(budget_bytes / (256 << 10) + 16)) {}

SharedBytes MemoryCache::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = values_.find(key);
  if (it == values_.end()) return nullptr;
  policy_.Access(key);
  return it->second;
}

void MemoryCache::Put(const std::string& key, SharedBytes value) {
  if (!value || value->size() > budget_) return;
  std::lock_guard lock(mu_);
  if (values_.count(key)) return;
  while (bytes_ + value->size() > budget_) {
    std::string victim = *policy_.Victim();
    policy_.Evict(victim);
    bytes_ -= values_[victim]->size();
    values_.erase(victim);
  }
  bytes_ += value->size();
  values_.emplace(key, std::move(value));
  policy_.Access(key);
}

uint64_t MemoryCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace lode::cache
