#include "cache/lru_k.h"

#include <algorithm>
#include <utility>

namespace lode::cache {

template <typename Key>
BasicLruK<Key>::BasicLruK(int k, size_t history_limit)
    : k_(static_cast<size_t>(std::clamp(k, 1, kMaxK))), history_limit_(history_limit) {}

template <typename Key>
typename BasicLruK<Key>::Slot BasicLruK<Key>::SlotOf(Entry& e) const {
  // The K-th most recent access is K - 1 places before the newest.
  uint64_t kth = e.seen >= k_ ? e.times[(e.newest + kMaxK - (k_ - 1)) % kMaxK] : 0;
  return {kth, e.times[e.newest], &e};
}

template <typename Key>
void BasicLruK<Key>::Place(size_t pos, const Slot& slot) {
  heap_[pos] = slot;
  slot.entry->heap_pos = pos;
}

template <typename Key>
void BasicLruK<Key>::SiftUp(size_t pos) {
  Slot moving = heap_[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!(moving < heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, moving);
}

template <typename Key>
void BasicLruK<Key>::SiftDown(size_t pos) {
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

template <typename Key>
void BasicLruK<Key>::RemoveFromHeap(Entry& e) {
  size_t pos = e.heap_pos;
  e.heap_pos = kNotResident;
  Slot last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;  // it was the last
  Place(pos, last);
  SiftUp(pos);
  SiftDown(last.entry->heap_pos);
}

template <typename Key>
void BasicLruK<Key>::Access(const Key& key) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) e.key = &it->first;
  if (!inserted && e.heap_pos == kNotResident) history_.erase(e.history_pos);
  e.newest = e.seen == 0 ? 0 : (e.newest + 1) % kMaxK;
  e.times[e.newest] = ++clock_;
  if (e.seen < k_) ++e.seen;
  if (e.heap_pos == kNotResident) {
    heap_.push_back(SlotOf(e));
    e.heap_pos = heap_.size() - 1;
    SiftUp(e.heap_pos);
  } else {
    heap_[e.heap_pos] = SlotOf(e);  // only later than it was: it can only sink
    SiftDown(e.heap_pos);
  }
}

template <typename Key>
std::optional<Key> BasicLruK<Key>::Victim() const {
  if (heap_.empty()) return std::nullopt;
  return *heap_.front().entry->key;
}

template <typename Key>
void BasicLruK<Key>::Evict(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.heap_pos == kNotResident) return;
  RemoveFromHeap(it->second);
  it->second.history_pos = history_.insert(history_.end(), key);
  TrimHistory();
}

template <typename Key>
void BasicLruK<Key>::Forget(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.heap_pos != kNotResident) {
    RemoveFromHeap(it->second);
  } else {
    history_.erase(it->second.history_pos);
  }
  entries_.erase(it);
}

template <typename Key>
bool BasicLruK<Key>::resident(const Key& key) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.heap_pos != kNotResident;
}

template <typename Key>
void BasicLruK<Key>::TrimHistory() {
  while (history_.size() > history_limit_) {
    entries_.erase(history_.front());
    history_.pop_front();
  }
}

template class BasicLruK<std::string>;
template class BasicLruK<uint64_t>;

}  // namespace lode::cache
