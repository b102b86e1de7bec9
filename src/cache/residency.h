// What a byte-budgeted cache holds: keys with their sizes (and, for the
// memory tier, their values), under LRU-K, evicting the policy's victims
// until a new key fits. The disk tier keeps its bytes in files beside it;
// the fleet simulator uses it alone, with 64-bit chunk ids for keys. Not
// thread-safe: the caches using it hold their own lock.
#pragma once

#include <cstdint>
#include <utility>

#include "cache/lru_k.h"

namespace lode::cache {

struct NoValue {};

template <typename Key, typename Value = NoValue>
class Residency {
 public:
  // `history_limit`: how many evicted keys LRU-K remembers.
  Residency(uint64_t budget_bytes, int k, size_t history_limit)
      : budget_(budget_bytes), policy_(k, history_limit) {}

  bool Contains(const Key& key) const { return policy_.resident(key); }
  void Prefetch(const Key& key) const { policy_.Prefetch(key); }
  // The value of `key`, counting an access; null when it is not resident.
  Value* Touch(const Key& key) {
    Slot* slot = policy_.TouchResident(key);
    return slot ? &slot->value : nullptr;
  }
  // Makes `key` resident with `value` (an access), first evicting until
  // `bytes` fit and calling `evicted(key, bytes)` for each key evicted.
  // False, and nothing changes, when `key` is resident already or larger
  // than the budget.
  template <typename OnEvict>
  bool Insert(const Key& key, uint64_t bytes, Value value, OnEvict&& evicted) {
    if (bytes > budget_ || Contains(key)) return false;
    while (bytes_ + bytes > budget_) {
      auto victim = policy_.EvictVictim();
      bytes_ -= victim->second.bytes;
      ++evictions_;
      evicted(victim->first, victim->second.bytes);
    }
    policy_.Access(key, Slot{bytes, std::move(value)});
    bytes_ += bytes;
    return true;
  }
  template <typename OnEvict>
  bool Insert(const Key& key, uint64_t bytes, OnEvict&& evicted) {
    return Insert(key, bytes, Value{}, std::forward<OnEvict>(evicted));
  }
  // Drops `key`, resident or not, and its history.
  void Erase(const Key& key) {
    if (auto slot = policy_.Forget(key)) bytes_ -= slot->bytes;
  }

  uint64_t bytes() const { return bytes_; }
  uint64_t budget() const { return budget_; }
  uint64_t entries() const { return policy_.resident_count(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    uint64_t bytes = 0;
    Value value{};
  };
  uint64_t budget_;
  BasicLruK<Key, Slot> policy_;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace lode::cache
