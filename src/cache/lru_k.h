// LRU-K replacement (O'Neil, O'Neil and Weikum, SIGMOD'93). The victim is the
// resident key whose K-th most recent access is oldest; keys seen fewer than
// K times count as infinitely old and go first, least recently used first.
// So a one-time scan of many keys evicts only other once-seen keys, never a
// working set that is read again and again. Access history of evicted keys is
// kept (bounded, oldest forgotten first) so a key that returns soon after its
// eviction is not treated as new. K = 1 is plain LRU; K is at most kMaxK.
//
// Keys seen fewer than K times (every key when K = 1) are ordered by their
// last access alone, so they sit in a list in access order; the others in a
// binary min-heap on (K-th most recent access, last access), each entry
// knowing its place. An access or an eviction costs O(1) in the list and
// O(log n) in the heap, without allocating once the cache is full. Entries
// live in one vector, found through one open-addressing map, and carry the
// caller's payload (a resident key's size and value), so a cache on top of
// this needs no second map. Keyed by chunk name in the agent's caches
// (LruK), by a 64-bit chunk id in the fleet simulator: one policy, two key
// types. Not thread-safe: the caches using it hold their own lock.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lode::cache {

struct NoPayload {};

template <typename Key, typename Payload = NoPayload>
class BasicLruK {
 public:
  static constexpr int kMaxK = 4;

  // `k` is clamped to [1, kMaxK].
  BasicLruK(int k, size_t history_limit)
      : k_(static_cast<uint32_t>(std::clamp(k, 1, kMaxK))), history_limit_(history_limit) {}

  // Records an access to `key` and makes it resident; a key not resident
  // gets `payload`.
  void Access(const Key& key, Payload payload = {});
  // Records an access to `key` if it is resident and returns its payload;
  // null, and nothing recorded, when it is not.
  Payload* TouchResident(const Key& key);
  // The resident key to evict next, if any.
  std::optional<Key> Victim() const;
  // Evicts the victim (as Evict) and returns it with its payload.
  std::optional<std::pair<Key, Payload>> EvictVictim();
  // `key` is no longer resident; its history is kept (bounded).
  void Evict(const Key& key);
  // Forgets `key` entirely: its payload if it was resident.
  std::optional<Payload> Forget(const Key& key);

  // Starts loading `key`'s place in the index into the CPU cache, so that
  // lookups of several keys (a chunk's stripes) overlap their misses.
  void Prefetch(const Key& key) const { index_.prefetch(key); }

  bool resident(const Key& key) const {
    auto it = index_.find(key);
    return it != index_.end() && entries_[it->second].where != kHistory;
  }
  size_t resident_count() const { return heap_.size() + recent_.size; }
  size_t history_count() const { return history_.size; }

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  // Where an entry is: a heap position, or one of the two lists.
  static constexpr uint32_t kRecent = kNone - 1;
  static constexpr uint32_t kHistory = kNone - 2;

  struct Entry {
    std::array<uint64_t, kMaxK> times{};  // ring of the last K accesses
    uint32_t seen = 0;                    // accesses recorded, up to K
    uint32_t newest = 0;                  // index of the last access in `times`
    uint32_t where = kNone;
    uint32_t prev = kNone, next = kNone;  // in its list
    Key key{};
    Payload payload{};
  };
  struct Slot {
    uint64_t kth, last;  // the order: smallest first
    uint32_t entry;
    bool operator<(const Slot& o) const { return kth != o.kth ? kth < o.kth : last < o.last; }
  };
  // A doubly linked list through the entries, oldest first.
  struct List {
    uint32_t head = kNone, tail = kNone;
    size_t size = 0;
  };

  bool Ordered(const Entry& e) const { return k_ > 1 && e.seen >= k_; }
  Slot SlotOf(uint32_t i) const;
  void Place(size_t pos, const Slot& slot);
  void SiftUp(size_t pos);
  void SiftDown(size_t pos);
  void RemoveFromHeap(uint32_t i);
  void Append(List& list, uint32_t i, uint32_t where);
  void Unlink(List& list, uint32_t i);
  // Takes `i` out of the list or heap it is in.
  void Detach(uint32_t i);
  // Records an access to entry `i` and puts it where its order says.
  void Record(uint32_t i);
  void Release(uint32_t i);
  void TrimHistory();

  uint32_t k_;
  size_t history_limit_;
  uint64_t clock_ = 0;
  absl::flat_hash_map<Key, uint32_t> index_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;  // unused entries
  std::vector<Slot> heap_;      // resident keys seen at least K times (K > 1)
  List recent_;                 // resident keys seen fewer than K times
  List history_;                // evicted keys
};

using LruK = BasicLruK<std::string>;

template <typename Key, typename Payload>
typename BasicLruK<Key, Payload>::Slot BasicLruK<Key, Payload>::SlotOf(uint32_t i) const {
  const Entry& e = entries_[i];
  // The K-th most recent access is K - 1 places before the newest.
  return {e.times[(e.newest + kMaxK - (k_ - 1)) % kMaxK], e.times[e.newest], i};
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Place(size_t pos, const Slot& slot) {
  heap_[pos] = slot;
  entries_[slot.entry].where = static_cast<uint32_t>(pos);
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::SiftUp(size_t pos) {
  Slot moving = heap_[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!(moving < heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, moving);
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::SiftDown(size_t pos) {
  Slot moving = heap_[pos];
  size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1] < heap_[child]) ++child;
    if (!(heap_[child] < moving)) break;
    Place(pos, heap_[child]);
    pos = child;
  }
  Place(pos, moving);
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::RemoveFromHeap(uint32_t i) {
  size_t pos = entries_[i].where;
  entries_[i].where = kNone;
  Slot last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;  // it was the last
  Place(pos, last);
  SiftUp(pos);
  SiftDown(entries_[last.entry].where);
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Append(List& list, uint32_t i, uint32_t where) {
  Entry& e = entries_[i];
  e.where = where;
  e.prev = list.tail;
  e.next = kNone;
  (list.tail == kNone ? list.head : entries_[list.tail].next) = i;
  list.tail = i;
  ++list.size;
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Unlink(List& list, uint32_t i) {
  Entry& e = entries_[i];
  (e.prev == kNone ? list.head : entries_[e.prev].next) = e.next;
  (e.next == kNone ? list.tail : entries_[e.next].prev) = e.prev;
  e.where = kNone;
  --list.size;
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Detach(uint32_t i) {
  uint32_t where = entries_[i].where;
  if (where == kRecent) {
    Unlink(recent_, i);
  } else if (where == kHistory) {
    Unlink(history_, i);
  } else if (where != kNone) {
    RemoveFromHeap(i);
  }
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Access(const Key& key, Payload payload) {
  auto [it, added] = index_.try_emplace(key, 0);
  if (added) {
    if (free_.empty()) {
      it->second = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    } else {
      it->second = free_.back();
      free_.pop_back();
    }
    entries_[it->second].key = key;
  }
  Entry& e = entries_[it->second];
  if (e.where == kNone || e.where == kHistory) e.payload = std::move(payload);
  Record(it->second);
}

template <typename Key, typename Payload>
Payload* BasicLruK<Key, Payload>::TouchResident(const Key& key) {
  auto it = index_.find(key);
  if (it == index_.end() || entries_[it->second].where == kHistory) return nullptr;
  Record(it->second);
  return &entries_[it->second].payload;
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Record(uint32_t i) {
  Entry& e = entries_[i];
  bool was_ordered = e.where != kNone && e.where != kRecent && e.where != kHistory;
  if (!was_ordered) Detach(i);
  e.newest = e.seen == 0 ? 0 : (e.newest + 1) % kMaxK;
  e.times[e.newest] = ++clock_;
  if (e.seen < k_) ++e.seen;
  if (!Ordered(e)) {
    Append(recent_, i, kRecent);
  } else if (was_ordered) {
    heap_[e.where] = SlotOf(i);  // only later than it was: it can only sink
    SiftDown(e.where);
  } else {
    heap_.push_back(SlotOf(i));
    SiftUp(heap_.size() - 1);
  }
}

template <typename Key, typename Payload>
std::optional<Key> BasicLruK<Key, Payload>::Victim() const {
  if (recent_.head != kNone) return entries_[recent_.head].key;
  if (!heap_.empty()) return entries_[heap_.front().entry].key;
  return std::nullopt;
}

template <typename Key, typename Payload>
std::optional<std::pair<Key, Payload>> BasicLruK<Key, Payload>::EvictVictim() {
  uint32_t i = recent_.head != kNone ? recent_.head : heap_.empty() ? kNone : heap_.front().entry;
  if (i == kNone) return std::nullopt;
  std::pair<Key, Payload> out{entries_[i].key, std::move(entries_[i].payload)};
  Evict(out.first);
  return out;
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Evict(const Key& key) {
  auto it = index_.find(key);
  if (it == index_.end() || entries_[it->second].where == kHistory) return;
  uint32_t i = it->second;
  Detach(i);
  if (history_limit_ == 0) {
    index_.erase(it);
    Release(i);
    return;
  }
  entries_[i].payload = Payload{};
  Append(history_, i, kHistory);
  TrimHistory();
}

template <typename Key, typename Payload>
std::optional<Payload> BasicLruK<Key, Payload>::Forget(const Key& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  uint32_t i = it->second;
  std::optional<Payload> payload;
  if (entries_[i].where != kHistory) payload = std::move(entries_[i].payload);
  Detach(i);
  index_.erase(it);
  Release(i);
  return payload;
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::Release(uint32_t i) {
  entries_[i] = Entry{};
  free_.push_back(i);
}

template <typename Key, typename Payload>
void BasicLruK<Key, Payload>::TrimHistory() {
  while (history_.size > history_limit_) {
    uint32_t oldest = history_.head;
    Unlink(history_, oldest);
    index_.erase(entries_[oldest].key);
    Release(oldest);
  }
}

}  // namespace lode::cache
