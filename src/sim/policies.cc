#include "sim/policies.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <list>
#include <queue>
#include <utility>

#include "cache/disk_cache.h"
#include "cache/residency.h"

namespace lode::sim {
namespace {

// The agent's tiers: cache::Residency with LRU-K (K = 1 is LRU), LRU-2
// remembering as many evicted chunks as the disk tier does.
class ResidencyPolicy : public Policy {
 public:
  ResidencyPolicy(size_t capacity, uint64_t chunk_bytes, int k)
      : residency_(capacity * chunk_bytes, k,
                   k > 1 ? cache::DiskCache::HistoryLimit(capacity * chunk_bytes) : 0),
        chunk_bytes_(chunk_bytes) {}
  bool Access(uint64_t key, size_t) override {
    if (residency_.Touch(key)) return true;
    residency_.Insert(key, chunk_bytes_, [](uint64_t, uint64_t) {});
    return false;
  }

 private:
  cache::Residency<uint64_t> residency_;
  uint64_t chunk_bytes_;
};

// A list of keys, newest first, that finds any of them in O(1).
class KeyList {
 public:
  bool Contains(uint64_t key) const { return where_.contains(key); }
  size_t size() const { return keys_.size(); }
  void PushFront(uint64_t key) {
    keys_.push_front(key);
    where_[key] = keys_.begin();
  }
  uint64_t PopBack() {
    uint64_t key = keys_.back();
    keys_.pop_back();
    where_.erase(key);
    return key;
  }
  // Removes `key` if present: whether it was.
  bool Remove(uint64_t key) {
    auto it = where_.find(key);
    if (it == where_.end()) return false;
    keys_.erase(it->second);
    where_.erase(it);
    return true;
  }
  void MoveToFront(uint64_t key) { keys_.splice(keys_.begin(), keys_, where_.at(key)); }

 private:
  std::list<uint64_t> keys_;
  absl::flat_hash_map<uint64_t, std::list<uint64_t>::iterator> where_;
};

// 2Q, the full version: new keys enter a FIFO (a quarter of the room);
// keys it pushes out are remembered (for half the room's worth), and one
// that comes back while remembered goes to the LRU main queue.
class TwoQ : public Policy {
 public:
  explicit TwoQ(size_t capacity)
      : capacity_(capacity),
        in_max_(std::max<size_t>(1, capacity / 4)),
        out_max_(std::max<size_t>(1, capacity / 2)) {}
  bool Access(uint64_t key, size_t) override {
    if (main_.Contains(key)) {
      main_.MoveToFront(key);
      return true;
    }
    if (in_.Contains(key)) return true;
    bool remembered = out_.Remove(key);
    MakeRoom();
    (remembered ? main_ : in_).PushFront(key);
    return false;
  }

 private:
  void MakeRoom() {
    if (main_.size() + in_.size() < capacity_) return;
    if (in_.size() > in_max_ || main_.size() == 0) {
      out_.PushFront(in_.PopBack());
      if (out_.size() > out_max_) out_.PopBack();
    } else {
      main_.PopBack();
    }
  }
  size_t capacity_, in_max_, out_max_;
  KeyList in_, out_, main_;
};

// ARC: recency (T1) and frequency (T2) lists with ghosts of each (B1,
// B2); a ghost hit moves the target size p of T1 toward the list that
// would have hit.
class Arc : public Policy {
 public:
  explicit Arc(size_t capacity) : c_(capacity) {}
  bool Access(uint64_t key, size_t) override {
    if (t1_.Remove(key) || t2_.Contains(key)) {
      if (t2_.Contains(key)) {
        t2_.MoveToFront(key);
      } else {
        t2_.PushFront(key);
      }
      return true;
    }
    if (b1_.Contains(key)) {
      p_ = std::min(static_cast<double>(c_), p_ + std::max(Ratio(b2_, b1_), 1.0));
      Replace(false);
      b1_.Remove(key);
      t2_.PushFront(key);
      return false;
    }
    if (b2_.Contains(key)) {
      p_ = std::max(0.0, p_ - std::max(Ratio(b1_, b2_), 1.0));
      Replace(true);
      b2_.Remove(key);
      t2_.PushFront(key);
      return false;
    }
    size_t l1 = t1_.size() + b1_.size(), all = l1 + t2_.size() + b2_.size();
    if (l1 == c_) {
      if (t1_.size() < c_) {
        b1_.PopBack();
        Replace(false);
      } else {
        t1_.PopBack();
      }
    } else if (all >= c_) {
      if (all == 2 * c_) b2_.PopBack();
      Replace(false);
    }
    t1_.PushFront(key);
    return false;
  }

 private:
  static double Ratio(const KeyList& a, const KeyList& b) {
    return static_cast<double>(a.size()) / static_cast<double>(b.size());
  }
  // Evicts from T1 or T2 into its ghost list, by p.
  void Replace(bool hit_in_b2) {
    if (t1_.size() + t2_.size() < c_) return;  // room left
    auto t1 = static_cast<double>(t1_.size());
    if (t1_.size() > 0 && (t1 > p_ || (hit_in_b2 && t1 == p_) || t2_.size() == 0)) {
      b1_.PushFront(t1_.PopBack());
    } else {
      b2_.PushFront(t2_.PopBack());
    }
  }
  size_t c_;
  double p_ = 0;
  KeyList t1_, t2_, b1_, b2_;
};

// S3-FIFO: a small FIFO (a tenth) filters one-hit keys; keys read again
// while there move to the main FIFO, which reinserts keys read since they
// entered (a 2-bit count); a ghost FIFO sends keys that come back straight
// to main.
class S3Fifo : public Policy {
 public:
  explicit S3Fifo(size_t capacity)
      : capacity_(capacity),
        small_max_(std::max<size_t>(1, capacity / 10)),
        main_max_(capacity - std::min(capacity - 1, small_max_)) {}
  bool Access(uint64_t key, size_t) override {
    auto it = freq_.find(key);
    if (it != freq_.end()) {
      it->second = std::min(it->second + 1, 3);
      return true;
    }
    while (small_.size() + main_.size() >= capacity_) Evict();
    if (ghost_.Remove(key)) {
      main_.push_front(key);
    } else {
      small_.push_front(key);
    }
    freq_[key] = 0;
    return false;
  }

 private:
  void Evict() {
    if (small_.size() >= small_max_ || main_.empty()) {
      EvictSmall();
    } else {
      EvictMain();
    }
  }
  void EvictSmall() {
    while (!small_.empty()) {
      uint64_t key = small_.back();
      small_.pop_back();
      if (freq_[key] > 1) {
        freq_[key] = 0;
        main_.push_front(key);
        if (main_.size() > main_max_) EvictMain();
        continue;
      }
      freq_.erase(key);
      ghost_.PushFront(key);
      if (ghost_.size() > main_max_) ghost_.PopBack();
      return;
    }
  }
  void EvictMain() {
    while (!main_.empty()) {
      uint64_t key = main_.back();
      main_.pop_back();
      int& f = freq_[key];
      if (f > 0) {
        --f;
        main_.push_front(key);
        continue;
      }
      freq_.erase(key);
      return;
    }
  }
  size_t capacity_, small_max_, main_max_;
  std::list<uint64_t> small_, main_;  // newest first
  KeyList ghost_;
  absl::flat_hash_map<uint64_t, int> freq_;  // resident keys
};

// SIEVE: one FIFO with a visited bit per key and a hand that walks from
// the oldest toward the newest, clearing bits, and evicts the first key
// not visited since the hand last passed it.
class Sieve : public Policy {
 public:
  explicit Sieve(size_t capacity) : capacity_(capacity) {}
  bool Access(uint64_t key, size_t) override {
    auto it = where_.find(key);
    if (it != where_.end()) {
      it->second->second = true;
      return true;
    }
    if (keys_.size() >= capacity_) Evict();
    keys_.emplace_front(key, false);
    where_[key] = keys_.begin();
    return false;
  }

 private:
  using Keys = std::list<std::pair<uint64_t, bool>>;  // newest first; visited
  void Evict() {
    Keys::iterator o = hand_ == keys_.end() ? std::prev(keys_.end()) : hand_;
    while (o->second) {
      o->second = false;
      o = o == keys_.begin() ? std::prev(keys_.end()) : std::prev(o);
    }
    hand_ = o == keys_.begin() ? keys_.end() : std::prev(o);
    where_.erase(o->first);
    keys_.erase(o);
  }
  size_t capacity_;
  Keys keys_;
  Keys::iterator hand_ = keys_.end();  // end: start from the oldest
  absl::flat_hash_map<uint64_t, Keys::iterator> where_;
};

// Belady's MIN: evict the key read again furthest in the future, and do
// not admit a key read later than every resident one.
class Belady : public Policy {
 public:
  Belady(size_t capacity, const std::vector<int64_t>& next) : capacity_(capacity), next_(next) {}
  bool Access(uint64_t key, size_t index) override {
    int64_t next = next_[index] >= 0 ? next_[index] : kNever + static_cast<int64_t>(index);
    auto it = next_use_.find(key);
    bool hit = it != next_use_.end();
    if (!hit) {
      if (capacity_ == 0) return false;
      if (next_use_.size() >= capacity_) {
        DropStale();
        if (furthest_.top().first <= next) return false;  // bypass
        next_use_.erase(furthest_.top().second);
        furthest_.pop();
      }
      it = next_use_.emplace(key, 0).first;
    }
    it->second = next;
    furthest_.emplace(next, key);
    return hit;
  }

 private:
  static constexpr int64_t kNever = int64_t{1} << 60;
  void DropStale() {
    while (true) {
      auto [next, key] = furthest_.top();
      auto it = next_use_.find(key);
      if (it != next_use_.end() && it->second == next) return;
      furthest_.pop();
    }
  }
  size_t capacity_;
  const std::vector<int64_t>& next_;
  absl::flat_hash_map<uint64_t, int64_t> next_use_;             // resident keys
  std::priority_queue<std::pair<int64_t, uint64_t>> furthest_;  // with stale entries
};

}  // namespace

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> names = {"lru-2",   "lru",   "2q",    "arc",
                                                 "s3-fifo", "sieve", "belady"};
  return names;
}

Result<std::unique_ptr<Policy>> MakePolicy(const std::string& name, size_t capacity,
                                           uint64_t chunk_bytes, const std::vector<int64_t>& next) {
  if (capacity == 0) return Status::InvalidArgument("a policy needs room for a chunk");
  std::unique_ptr<Policy> policy;
  if (name == "lru-2") policy = std::make_unique<ResidencyPolicy>(capacity, chunk_bytes, 2);
  if (name == "lru") policy = std::make_unique<ResidencyPolicy>(capacity, chunk_bytes, 1);
  if (name == "2q") policy = std::make_unique<TwoQ>(capacity);
  if (name == "arc") policy = std::make_unique<Arc>(capacity);
  if (name == "s3-fifo") policy = std::make_unique<S3Fifo>(capacity);
  if (name == "sieve") policy = std::make_unique<Sieve>(capacity);
  if (name == "belady") policy = std::make_unique<Belady>(capacity, next);
  if (policy) return policy;
  return Status::InvalidArgument("no policy " + name +
                                 " (lru-2, lru, 2q, arc, s3-fifo, sieve, belady)");
}

Result<double> MissRatio(const std::string& name, const std::vector<Request>& requests,
                         const std::vector<int64_t>& next, size_t capacity) {
  if (requests.empty()) return 0.0;
  if (capacity == 0) return 1.0;
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Policy> policy,
                        MakePolicy(name, capacity, requests.front().bytes, next));
  uint64_t misses = 0;
  for (size_t i = 0; i < requests.size(); ++i) misses += !policy->Access(requests[i].key, i);
  return static_cast<double>(misses) / static_cast<double>(requests.size());
}

}  // namespace lode::sim
