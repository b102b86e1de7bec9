// The host's private parts, shared by host.cc (invocations) and
// host_sandboxes.cc (starting, keeping and discarding sandboxes).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "functions/directory.h"
#include "functions/host.h"
#include "functions/report.h"
#include "functions/sandbox.h"

namespace lode::functions {

// One sandbox and what the host knows of it.
struct Slot {
  std::unique_ptr<Sandbox> sandbox;
  std::shared_ptr<FunctionLog> log;
  std::string key, version;
  Clock::time_point started, idle_since;
  bool initialized = false;
};

struct Pool {
  std::deque<std::shared_ptr<Slot>> idle;  // most recently used first
  int live = 0;                            // idle, busy and starting
};

class Host::Impl {
 public:
  explicit Impl(HostOptions options)
      : o_(std::move(options)), directory_(o_.store, o_.keys, o_.tenants, o_.region) {
    if (!o_.log_dir.empty())
      reports_ = std::make_unique<FunctionLog>(o_.log_dir + "/reports.jsonl");
  }
  ~Impl();
  void StartThreads();
  InvokeResult Invoke(const InvokeRequest& request);
  InvokeResult Enqueue(const InvokeRequest& request);
  InvokeResult Check(const InvokeRequest& request);
  void Drain();
  std::string Metrics();

 private:
  // The function a request names: nullopt with `result` filled when none.
  std::optional<FunctionEntry> Lookup(const std::string& name, InvokeResult& result);
  // A warm sandbox of the function, or a new slot to start one in;
  // nullptr when over a limit.
  std::shared_ptr<Slot> Acquire(const FunctionEntry& f, bool& cold);
  void Release(const std::shared_ptr<Slot>& slot, bool keep);
  bool EvictIdleLocked();
  std::shared_ptr<FunctionLog> LogOf(const FunctionEntry& f);
  InvokeResult Run(const FunctionEntry& f, const InvokeRequest& request, InvokeResult result);
  // Starts the function's sandbox: a restore of its SnapStart snapshot
  // when it has one this host can restore (`restored`), else a boot.
  Status StartSandbox(const FunctionEntry& f, Slot& slot, bool& restored);
  void Record(const InvocationReport& report, FunctionLog& log);
  void Reap();
  void RunEvents();

  HostOptions o_;
  HostMetrics metrics_;
  std::mutex mu_;
  std::condition_variable changed_;
  FunctionDirectory directory_;
  std::map<std::string, Pool> pools_;
  std::map<std::string, std::shared_ptr<FunctionLog>> logs_;
  std::deque<std::shared_ptr<Slot>> discarded_;
  std::deque<InvokeRequest> events_;
  int live_ = 0, busy_ = 0, starting_ = 0, running_ = 0;
  uint64_t next_sandbox_ = 0;
  bool draining_ = false, stopping_ = false;
  std::unique_ptr<FunctionLog> reports_;  // reports.jsonl; none without a log directory
  std::thread reaper_;
  std::vector<std::thread> event_workers_;
};

}  // namespace lode::functions
