// LRU-K replacement (O'Neil, O'Neil and Weikum, SIGMOD'93). The victim is the
// resident key whose K-th most recent access is oldest; keys seen fewer than
// K times count as infinitely old and go first, least recently used first.
// So a one-time scan of many keys evicts only other once-seen keys, never a
// working set that is read again and again. Access history of evicted keys is
// kept (bounded, oldest forgotten first) so a key that returns soon after its
// eviction is not treated as new. K = 1 is plain LRU; K is at most kMaxK.
//
// Resident keys sit in a binary min-heap on (K-th most recent access, last
// access), each entry knowing its place: an access, an eviction or the
// victim costs O(log n) without allocating. Keyed by chunk name in the
// agent's caches (LruK), by a 64-bit chunk id in the fleet simulator
// (BasicLruK<uint64_t>): one policy, two key types.
// Not thread-safe: the caches using it hold their own lock.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lode::cache {

template <typename Key>
class BasicLruK {
 public:
  static constexpr int kMaxK = 4;

  // `k` is clamped to [1, kMaxK].
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
  size_t resident_count() const { return heap_.size(); }
  size_t history_count() const { return history_.size(); }

 private:
  static constexpr size_t kNotResident = ~size_t{0};
  struct Entry {
    std::array<uint64_t, kMaxK> times{};  // ring of the last K accesses
    uint32_t seen = 0;                    // accesses recorded, up to K
    uint32_t newest = 0;                  // index of the last access in `times`
    size_t heap_pos = kNotResident;
    typename std::list<Key>::iterator history_pos;  // when not resident
    const Key* key = nullptr;                       // the map's own copy
  };
  struct Slot {
    uint64_t kth, last;  // the order: smallest first
    Entry* entry;
    bool operator<(const Slot& o) const { return kth != o.kth ? kth < o.kth : last < o.last; }
  };

  Slot SlotOf(Entry& e) const;
  void Place(size_t pos, const Slot& slot);
  void SiftUp(size_t pos);
  void SiftDown(size_t pos);
  void RemoveFromHeap(Entry& e);
  void TrimHistory();

  size_t k_;
  size_t history_limit_;
  uint64_t clock_ = 0;
  std::unordered_map<Key, Entry> entries_;
  std::vector<Slot> heap_;  // resident keys
  std::list<Key> history_;  // evicted keys, oldest first
};

using LruK = BasicLruK<std::string>;

}  // namespace lode::cache
