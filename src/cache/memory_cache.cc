#include "cache/memory_cache.h"

namespace lode::cache {

MemoryCache::MemoryCache(uint64_t budget_bytes)
    : residency_(budget_bytes, 2, HistoryLimit(budget_bytes)) {}

SharedBytes MemoryCache::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  SharedBytes* value = residency_.Touch(key);
  return value ? *value : nullptr;
}

void MemoryCache::Put(const std::string& key, SharedBytes value) {
  if (!value) return;
  std::lock_guard lock(mu_);
  uint64_t size = value->size();
  residency_.Insert(key, size, std::move(value), [](const std::string&, uint64_t) {});
}

uint64_t MemoryCache::bytes() const {
  std::lock_guard lock(mu_);
  return residency_.bytes();
}

}  // namespace lode::cache
