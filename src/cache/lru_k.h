// LRU-K replacement (O'Neil, O'Neil and Weikum, SIGMOD'93). The victim is the
// resident key whose K-th most recent access is oldest; keys seen fewer than
// K times count as infinitely old and go first, least recently used first.
// So a one-time scan of many keys evicts only other once-seen keys, never a
// working set that is read again and again. Access history of evicted keys is
// kept (bounded, oldest forgotten first) so a key that returns soon after its
// eviction is not treated as new. K = 1 is plain LRU.
//
// Keyed by chunk name in the agent's caches (LruK), by a 64-bit chunk id
// in the fleet simulator (BasicLruK<uint64_t>): one policy, two key types.
// Not thread-safe: the caches using it hold their own lock.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace lode::cache {

template <typename Key>
class BasicLruK {
 public:
  BasicLruK(int k, size_t history_limit);

  // Records an access to `key` and makes it resident.
  void Access(const Key& key);
  // The resident key to evict next, if any.
  std::optional<Key> Victim() const;
  // `key` is no longer resident; its history is kept (bounded).
  void Evict(const Key& key);
  // Forgets `key` entirely (resident or not).
  void Forget(const Key& key);

  bool resident(const Key& key) const;
  size_t resident_count() const { return order_.size(); }
  size_t history_count() const { return history_.size(); }

 private:
  struct Entry {
    std::vector<uint64_t> times;  // most recent last, at most K
    bool resident = false;
    typename std::list<Key>::iterator history_pos;  // when not resident
  };
  // (K-th most recent access or 0 if fewer, last access, key): smallest first.
  using OrderKey = std::tuple<uint64_t, uint64_t, Key>;
  OrderKey OrderOf(const Key& key, const Entry& e) const;
  void TrimHistory();

  size_t k_;
  size_t history_limit_;
  uint64_t clock_ = 0;
  std::unordered_map<Key, Entry> entries_;
  std::set<OrderKey> order_;  // resident keys
  std::list<Key> history_;    // evicted keys, oldest first
};

using LruK = BasicLruK<std::string>;

}  // namespace lode::cache
