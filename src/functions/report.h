// What the host records of each invocation, as Lambda does: START, the
// runtime's output, END and REPORT lines in the function's log, a REPORT
// record as a JSON line, and Prometheus metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace lode::functions {

// kRestore: a cold start that restored the function's SnapStart snapshot.
enum class StartKind { kCold, kWarm, kRestore };

// What a restore loaded of one part of its snapshot ("memory", "state"
// or "disk"): the agent's `regions` answer.
struct RegionLoad {
  std::string name;
  uint64_t stored = 0, loaded = 0, fetched = 0, fetched_bytes = 0;  // chunks; stored bytes
};

struct InvocationReport {
  std::string request_id, tenant, function;
  StartKind start = StartKind::kWarm;
  std::string outcome;     // "response", "error", "timeout", "exit", "init_error"
  std::string error_type;  // for errors
  double duration_ms = 0;  // event delivered until its end
  uint32_t memory_mib = 0;
  uint64_t max_memory_used_bytes = 0;
  // Cold starts: sandbox start until the first `next` (restores: the
  // Restore Duration, until the restored runtime's first `next`).
  double init_duration_ms = 0;
  // Cold starts: where the sandbox's start went before the runtime ran.
  double attach_ms = 0, mount_ms = 0, network_ms = 0, spawn_ms = 0;
  // Restores: what the restore and the first invocation loaded of the
  // snapshot, by part.
  std::vector<RegionLoad> restore_loads;
  int64_t time_ms = 0;  // Unix milliseconds of the end
};

// "REPORT RequestId: ...\tDuration: 1.23 ms\tBilled Duration: 2 ms\t...".
std::string ReportLine(const InvocationReport& r);
// The same as one JSON object (docs/formats/functions.md).
std::string ReportJson(const InvocationReport& r);
// Lambda bills whole milliseconds, rounded up (at least 1).
uint64_t BilledMillis(double duration_ms);

// A function's log on this host: <dir>/<tenant>/<function>.log, appended
// by every sandbox of the function, moved to .log.1 when it passes
// kMaxLogBytes so a runtime that floods its output costs bounded disk.
// Also keeps the tail of the invocation in progress for X-Amz-Log-Result.
class FunctionLog {
 public:
  static constexpr uint64_t kMaxLogBytes = 64ull << 20;
  static constexpr size_t kTailBytes = 4096;
  // `path` "" keeps no file (the tail only).
  explicit FunctionLog(std::string path) : path_(std::move(path)) {}
  ~FunctionLog();
  FunctionLog(const FunctionLog&) = delete;
  FunctionLog& operator=(const FunctionLog&) = delete;

  void Append(std::string_view text);
  // Starts a new tail (at the START line of an invocation).
  void BeginTail();
  std::string Tail();

 private:
  void WriteLocked(std::string_view text);
  std::string path_;
  std::mutex mu_;
  FILE* file_ = nullptr;
  uint64_t bytes_ = 0;
  std::string tail_;
};

// Counters and histograms of one host.
class HostMetrics {
 public:
  void Invoked(const std::string& function, StartKind start, double init_seconds);
  void Ended(const std::string& function, const std::string& outcome, double duration_seconds);
  void Throttled(const std::string& function);
  // A SnapStart function's snapshot could not be restored here: it booted.
  void SnapStartFellBack(const std::string& function);
  // Prometheus text; `sandboxes` by state ("starting", "busy", "idle").
  std::string Render(const std::map<std::string, int>& sandboxes);

 private:
  struct Histogram {
    static constexpr std::array<double, 14> kBounds = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,   1,     2.5,  5,     10,   60};
    std::array<uint64_t, kBounds.size() + 1> counts{};
    double sum = 0;
    void Add(double seconds);
    void Render(std::string& out, const std::string& name) const;
  };
  struct PerFunction {
    uint64_t invocations = 0, cold = 0, warm = 0, restores = 0, throttles = 0, fallbacks = 0;
    std::map<std::string, uint64_t> ends;  // by outcome
  };
  std::mutex mu_;
  std::map<std::string, PerFunction> functions_;
  Histogram init_, restore_, invoke_;
};

}  // namespace lode::functions
