// What a byte-budgeted cache holds: keys with their sizes, under LRU-K,
// evicting the policy's victims until a new key fits. The agent's memory
// and disk tiers keep their bytes beside it (values, files); the fleet
// simulator uses it alone, with 64-bit chunk ids for keys. Not
// thread-safe: the caches using it hold their own lock.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "cache/lru_k.h"

namespace lode::cache {

template <typename Key>
class Residency {
 public:
  // `history_limit`: how many evicted keys LRU-K remembers.
  Residency(uint64_t budget_bytes, int k, size_t history_limit)
      : budget_(budget_bytes), policy_(k, history_limit) {}

  bool Contains(const Key& key) const { return sizes_.count(key) != 0; }
  // Counts an access of `key` if resident; false when it is not.
  bool Touch(const Key& key) {
    if (!Contains(key)) return false;
    policy_.Access(key);
    return true;
  }
  // Makes `key` resident (an access), first evicting until `bytes` fit and
  // calling `evicted(key, bytes)` for each key evicted. False, and nothing
  // changes, when `key` is resident already or larger than the budget.
  template <typename OnEvict>
  bool Insert(const Key& key, uint64_t bytes, OnEvict&& evicted) {
    if (bytes > budget_ || Contains(key)) return false;
    while (bytes_ + bytes > budget_) {
      Key victim = *policy_.Victim();
      policy_.Evict(victim);
      auto it = sizes_.find(victim);
      uint64_t size = it->second;
      bytes_ -= size;
      sizes_.erase(it);
      ++evictions_;
      evicted(victim, size);
    }
    sizes_.emplace(key, bytes);
    bytes_ += bytes;
    policy_.Access(key);
    return true;
  }
  // Drops `key`, resident or not, and its history.
  void Erase(const Key& key) {
    auto it = sizes_.find(key);
    if (it != sizes_.end()) {
      bytes_ -= it->second;
      sizes_.erase(it);
    }
    policy_.Forget(key);
  }

  uint64_t bytes() const { return bytes_; }
  uint64_t budget() const { return budget_; }
  uint64_t entries() const { return sizes_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  uint64_t budget_;
  BasicLruK<Key> policy_;
  std::unordered_map<Key, uint64_t> sizes_;  // resident keys
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace lode::cache
