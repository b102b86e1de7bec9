#include "cache/lru_k.h"

#include <tuple>

namespace lode::cache {

template <typename Key>
BasicLruK<Key>::BasicLruK(int k, size_t history_limit)
    : k_(static_cast<size_t>(k < 1 ? 1 : k)), history_limit_(history_limit) {}

template <typename Key>
typename BasicLruK<Key>::OrderKey BasicLruK<Key>::OrderOf(const Key& key, const Entry& e) const {
  uint64_t kth = e.times.size() >= k_ ? e.times[e.times.size() - k_] : 0;
  return {kth, e.times.back(), key};
}

template <typename Key>
void BasicLruK<Key>::Access(const Key& key) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (!inserted) {
    if (e.resident) {
      order_.erase(OrderOf(key, e));
    } else {
      history_.erase(e.history_pos);
    }
  }
  e.times.push_back(++clock_);
  if (e.times.size() > k_) e.times.erase(e.times.begin());
  e.resident = true;
  order_.insert(OrderOf(key, e));
}

template <typename Key>
std::optional<Key> BasicLruK<Key>::Victim() const {
  if (order_.empty()) return std::nullopt;
  return std::get<2>(*order_.begin());
}

template <typename Key>
void BasicLruK<Key>::Evict(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.resident) return;
  order_.erase(OrderOf(key, it->second));
  it->second.resident = false;
  it->second.history_pos = history_.insert(history_.end(), key);
  TrimHistory();
}

template <typename Key>
void BasicLruK<Key>::Forget(const Key& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.resident) {
    order_.erase(OrderOf(key, it->second));
  } else {
    history_.erase(it->second.history_pos);
  }
  entries_.erase(it);
}

template <typename Key>
bool BasicLruK<Key>::resident(const Key& key) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.resident;
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
