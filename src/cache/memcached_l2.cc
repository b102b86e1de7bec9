#include "cache/memcached_l2.h"

#include <libmemcached/memcached.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "cache/placement.h"
#include "util/sha256.h"

namespace lode::cache {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxQueuedPerServer = 256;
constexpr std::chrono::seconds kDrainBudget{2};

std::string StripeKey(const std::string& name, int index, const ErasureCode& code) {
  return "lode:" + std::to_string(code.k) + "+" + std::to_string(code.m) + ":" + name + ":" +
         std::to_string(index);
}

// What one Get collects from the servers' threads.
struct Gather {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<std::vector<uint8_t>>> stripes;
  std::vector<int> absent;  // answered without a good stripe
  int answered = 0;
  int good = 0;
  bool done = false;
};

}  // namespace

// One memcached server: a connection and the thread that owns it.
class MemcachedL2::Server {
 public:
  struct Job {
    Clock::time_point deadline;  // max() for fills
    std::function<void(memcached_st*)> run;
    std::function<void()> expired;  // a get whose deadline passed in the queue
  };

  Server(const std::string& host, int port, std::chrono::milliseconds timeout)
      : name_(host + ":" + std::to_string(port)), mc_(memcached_create(nullptr)) {
    memcached_server_add(mc_, host.c_str(), static_cast<in_port_t>(port));
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    auto ms = static_cast<uint64_t>(timeout.count());
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Server() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    thread_.join();
    memcached_free(mc_);
  }

  const std::string& name() const { return name_; }

  bool Submit(Job job) {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= kMaxQueuedPerServer) return false;
    jobs_.push_back(std::move(job));
    cv_.notify_one();
    return true;
  }

 private:
  // At a stop, queued fills still run for up to kDrainBudget; gets expire.
  void Loop() {
    std::unique_lock lock(mu_);
    Clock::time_point drain_until = Clock::time_point::max();
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_ && drain_until == Clock::time_point::max()) {
        drain_until = Clock::now() + kDrainBudget;
      }
      if (jobs_.empty()) break;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      bool stopping = stopping_;
      lock.unlock();
      Clock::time_point now = Clock::now();
      bool is_get = static_cast<bool>(job.expired);
      if (now > job.deadline || (is_get && stopping) || now > drain_until) {
        if (is_get) job.expired();
      } else {
        job.run(mc_);
      }
      lock.lock();
    }
  }

  std::string name_;
  memcached_st* mc_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

Result<std::vector<std::string>> ParseMemcachedUrl(const std::string& url) {
  constexpr std::string_view kScheme = "memcached://";
  if (url.rfind(kScheme, 0) != 0) {
    return Status::InvalidArgument("L2 URL '" + url + "' is not memcached://HOST:PORT,...");
  }
  std::vector<std::string> servers;
  std::string rest = url.substr(kScheme.size());
  for (size_t start = 0; start <= rest.size();) {
    size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    std::string server = rest.substr(start, comma - start);
    size_t colon = server.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == server.size() ||
        server.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      return Status::InvalidArgument("bad memcached server '" + server + "' in " + url);
    }
    servers.push_back(server);
    start = comma + 1;
  }
  return servers;
}

Result<ErasureCode> ParseErasureCode(const std::string& text) {
  size_t plus = text.find('+');
  ErasureCode code;
  try {
    if (plus == std::string::npos) throw std::invalid_argument("no +");
    code.k = std::stoi(text.substr(0, plus));
    code.m = std::stoi(text.substr(plus + 1));
  } catch (const std::exception&) {
    return Status::InvalidArgument("erasure code '" + text + "' is not K+M (e.g. 4+1)");
  }
  if (code.k < 1 || code.m < 0 || code.total() > 32) {
    return Status::InvalidArgument("erasure code '" + text + "' out of range (1 <= K, K+M <= 32)");
  }
  return code;
}

MemcachedL2::MemcachedL2(L2Options options) : options_(std::move(options)) {}

MemcachedL2::~MemcachedL2() = default;

Result<std::unique_ptr<MemcachedL2>> MemcachedL2::Open(const L2Options& options) {
  if (static_cast<int>(options.servers.size()) < options.code.total()) {
    return Status::InvalidArgument("an L2 of " + std::to_string(options.code.k) + "+" +
                                   std::to_string(options.code.m) + " stripes needs at least " +
                                   std::to_string(options.code.total()) + " memcached servers");
  }
  std::unique_ptr<MemcachedL2> l2(new MemcachedL2(options));
  for (const std::string& s : options.servers) {
    size_t colon = s.rfind(':');
    l2->servers_.push_back(std::make_unique<Server>(
        s.substr(0, colon), std::stoi(s.substr(colon + 1)), options.deadline));
  }
  return l2;
}

std::vector<size_t> MemcachedL2::Placement(const std::string& name) const {
  return RankServers(options_.servers, name, static_cast<size_t>(options_.code.total()));
}

Result<std::vector<uint8_t>> MemcachedL2::Get(const std::string& name) {
  const ErasureCode& code = options_.code;
  auto gather = std::make_shared<Gather>();
  gather->stripes.resize(static_cast<size_t>(code.total()));
  Clock::time_point deadline = Clock::now() + options_.deadline;
  std::vector<size_t> placement = Placement(name);
  auto answer = [this, gather](int index, std::optional<std::vector<uint8_t>> stripe) {
    std::lock_guard lock(gather->mu);
    ++gather->answered;
    if (gather->done) {
      counters_.stripes_late++;
    } else if (stripe) {
      gather->stripes[static_cast<size_t>(index)] = std::move(stripe);
      ++gather->good;
    } else {
      counters_.stripes_missing++;
      gather->absent.push_back(index);
    }
    gather->cv.notify_all();
  };
  for (int i = 0; i < code.total(); ++i) {
    std::string key = StripeKey(name, i, code);
    Server::Job job{deadline,
                    [=](memcached_st* mc) {
                      size_t len = 0;
                      uint32_t flags = 0;
                      memcached_return_t rc;
                      char* value = memcached_get(mc, key.data(), key.size(), &len, &flags, &rc);
                      std::optional<std::vector<uint8_t>> stripe;
                      if (value != nullptr) {
                        std::span<const uint8_t> bytes(reinterpret_cast<uint8_t*>(value), len);
                        if (StripeIsValid(bytes, name, i, code))
                          stripe.emplace(bytes.begin(), bytes.end());
                        std::free(value);
                      }
                      answer(i, std::move(stripe));
                    },
                    [=] { answer(i, std::nullopt); }};
    if (!servers_[placement[static_cast<size_t>(i)]]->Submit(std::move(job)))
      answer(i, std::nullopt);
  }
  std::vector<std::optional<std::vector<uint8_t>>> stripes;
  std::vector<int> absent;
  {
    std::unique_lock lock(gather->mu);
    gather->cv.wait_until(
        lock, deadline, [&] { return gather->good >= code.k || gather->answered == code.total(); });
    gather->done = true;
    stripes = gather->stripes;
    absent = gather->absent;
  }
  Result<std::vector<uint8_t>> chunk = DecodeStripes(stripes, name, code);
  // A server that lost its stripe (restarted empty) gets it back.
  if (chunk.ok() && !absent.empty()) {
    Store(name, std::make_shared<const std::vector<uint8_t>>(*chunk), absent);
  }
  return chunk;
}

void MemcachedL2::Fill(const std::string& name, SharedBytes chunk) {
  counters_.fills++;
  std::vector<int> all(static_cast<size_t>(options_.code.total()));
  for (int i = 0; i < options_.code.total(); ++i) all[static_cast<size_t>(i)] = i;
  Store(name, std::move(chunk), all);
}

void MemcachedL2::Store(const std::string& name, SharedBytes chunk,
                        const std::vector<int>& indices) {
  const ErasureCode& code = options_.code;
  auto stripes =
      std::make_shared<std::vector<std::vector<uint8_t>>>(EncodeStripes(*chunk, name, code));
  std::vector<size_t> placement = Placement(name);
  for (int i : indices) {
    std::string key = StripeKey(name, i, code);
    Server::Job job{
        Clock::time_point::max(),
        [this, stripes, key, i](memcached_st* mc) {
          const std::vector<uint8_t>& s = (*stripes)[static_cast<size_t>(i)];
          if (memcached_set(mc, key.data(), key.size(), reinterpret_cast<const char*>(s.data()),
                            s.size(), 0, 0) == MEMCACHED_SUCCESS) {
            counters_.stripes_stored++;
          }
        },
        nullptr};
    if (!servers_[placement[static_cast<size_t>(i)]]->Submit(std::move(job)))
      counters_.fills_dropped++;
  }
}

}  // namespace lode::cache
