#include "functions/report.h"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace lode::functions {

namespace fs = std::filesystem;

uint64_t BilledMillis(double duration_ms) {
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(duration_ms)));
}

std::string ReportLine(const InvocationReport& r) {
  char text[512];
  int n = std::snprintf(
      text, sizeof(text),
      "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %llu ms\tMemory Size: %u MB\t"
      "Max Memory Used: %llu MB",
      r.request_id.c_str(), r.duration_ms,
      static_cast<unsigned long long>(BilledMillis(r.duration_ms)), r.memory_mib,
      static_cast<unsigned long long>((r.max_memory_used_bytes + (1 << 20) - 1) >> 20));
  std::string line(text, static_cast<size_t>(std::max(0, n)));
  if (r.start != StartKind::kWarm) {
    std::snprintf(text, sizeof(text), "\t%s Duration: %.2f ms",
                  r.start == StartKind::kRestore ? "Restore" : "Init", r.init_duration_ms);
    line += text;
  }
  if (!r.restore_loads.empty()) {
    line += "\tRestore Loaded:";
    for (const RegionLoad& l : r.restore_loads) {
      line += " " + l.name + " " + std::to_string(l.loaded) + "/" + std::to_string(l.stored) +
              (&l == &r.restore_loads.back() ? " chunks" : ",");
    }
  }
  if (r.outcome == "timeout") line += "\tStatus: timeout";
  if (r.outcome == "exit" || r.outcome == "init_error") line += "\tStatus: error";
  return line;
}

std::string ReportJson(const InvocationReport& r) {
  nlohmann::json j = {{"time_ms", r.time_ms},
                      {"request_id", r.request_id},
                      {"tenant", r.tenant},
                      {"function", r.function},
                      {"start", r.start == StartKind::kCold      ? "cold"
                                : r.start == StartKind::kRestore ? "restore"
                                                                 : "warm"},
                      {"outcome", r.outcome},
                      {"duration_ms", r.duration_ms},
                      {"billed_duration_ms", BilledMillis(r.duration_ms)},
                      {"memory_size_mb", r.memory_mib},
                      {"max_memory_used_mb", (r.max_memory_used_bytes + (1 << 20) - 1) >> 20}};
  if (r.start != StartKind::kWarm) {
    j[r.start == StartKind::kRestore ? "restore_duration_ms" : "init_duration_ms"] =
        r.init_duration_ms;
    j["start_phases_ms"] = {{"attach", r.attach_ms},
                            {"mount", r.mount_ms},
                            {"network", r.network_ms},
                            {"spawn", r.spawn_ms}};
  }
  for (const RegionLoad& l : r.restore_loads) {
    j["restore_loads"][l.name] = {{"chunks_stored", l.stored},
                                  {"chunks_loaded", l.loaded},
                                  {"chunks_fetched", l.fetched},
                                  {"fetched_bytes", l.fetched_bytes}};
  }
  if (!r.error_type.empty()) j["error_type"] = r.error_type;
  return j.dump();
}

FunctionLog::~FunctionLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void FunctionLog::Append(std::string_view text) {
  std::lock_guard lock(mu_);
  tail_.append(text);
  if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  WriteLocked(text);
}

void FunctionLog::WriteLocked(std::string_view text) {
  if (path_.empty()) return;
  if (file_ != nullptr && bytes_ + text.size() > kMaxLogBytes) {
    std::fclose(file_);
    file_ = nullptr;
    std::error_code ec;
    fs::rename(path_, path_ + ".1", ec);
  }
  if (file_ == nullptr) {
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) return;  // logs are best effort; invocations go on
    struct stat st {};
    bytes_ = ::fstat(fileno(file_), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
  bytes_ += text.size();
}

void FunctionLog::BeginTail() {
  std::lock_guard lock(mu_);
  tail_.clear();
}

std::string FunctionLog::Tail() {
  std::lock_guard lock(mu_);
  return tail_.size() > kTailBytes ? tail_.substr(tail_.size() - kTailBytes) : tail_;
}

void HostMetrics::Histogram::Add(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts[i];
  sum += seconds;
}

void HostMetrics::Histogram::Render(std::string& out, const std::string& name) const {
  out += "# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts[i];
    char le[32];
    if (i < kBounds.size()) {
      std::snprintf(le, sizeof(le), "%g", kBounds[i]);
    } else {
      std::snprintf(le, sizeof(le), "+Inf");
    }
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + std::to_string(sum) + "\n";
  out += name + "_count " + std::to_string(cumulative) + "\n";
}

void HostMetrics::Invoked(const std::string& function, StartKind start, double init_seconds) {
  std::lock_guard lock(mu_);
  PerFunction& f = functions_[function];
  ++f.invocations;
  if (start == StartKind::kCold) {
    ++f.cold;
    init_.Add(init_seconds);
  } else if (start == StartKind::kRestore) {
    ++f.restores;
    restore_.Add(init_seconds);
  } else {
    ++f.warm;
  }
}

void HostMetrics::Ended(const std::string& function, const std::string& outcome,
                        double duration_seconds) {
  std::lock_guard lock(mu_);
  ++functions_[function].ends[outcome];
  invoke_.Add(duration_seconds);
}

void HostMetrics::Throttled(const std::string& function) {
  std::lock_guard lock(mu_);
  ++functions_[function].throttles;
}

void HostMetrics::SnapStartFellBack(const std::string& function) {
  std::lock_guard lock(mu_);
  ++functions_[function].fallbacks;
}

std::string HostMetrics::Render(const std::map<std::string, int>& sandboxes) {
  std::lock_guard lock(mu_);
  std::string out;
  auto counter = [&](const std::string& name, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
  };
  counter("lode_function_invocations_total", "Invocations that reached a sandbox, by start.");
  for (const auto& [name, f] : functions_) {
    out += "lode_function_invocations_total{function=\"" + name + "\",start=\"cold\"} " +
           std::to_string(f.cold) + "\n";
    out += "lode_function_invocations_total{function=\"" + name + "\",start=\"warm\"} " +
           std::to_string(f.warm) + "\n";
    out += "lode_function_invocations_total{function=\"" + name + "\",start=\"restore\"} " +
           std::to_string(f.restores) + "\n";
  }
  counter("lode_function_snapstart_fallbacks_total",
          "SnapStart cold starts that booted: the snapshot could not be restored here.");
  for (const auto& [name, f] : functions_) {
    out += "lode_function_snapstart_fallbacks_total{function=\"" + name + "\"} " +
           std::to_string(f.fallbacks) + "\n";
  }
  counter("lode_function_ends_total", "Invocations by how they ended.");
  for (const auto& [name, f] : functions_) {
    for (const auto& [outcome, n] : f.ends) {
      out += "lode_function_ends_total{function=\"" + name + "\",outcome=\"" + outcome + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  counter("lode_function_errors_total", "Invocations that ended in an error of any kind.");
  for (const auto& [name, f] : functions_) {
    uint64_t errors = 0;
    for (const auto& [outcome, n] : f.ends) errors += outcome == "response" ? 0 : n;
    out += "lode_function_errors_total{function=\"" + name + "\"} " + std::to_string(errors) + "\n";
  }
  counter("lode_function_throttles_total", "Invocations refused over a concurrency limit.");
  for (const auto& [name, f] : functions_) {
    out += "lode_function_throttles_total{function=\"" + name + "\"} " +
           std::to_string(f.throttles) + "\n";
  }
  out += "# HELP lode_function_sandboxes Sandboxes on this host by state.\n";
  out += "# TYPE lode_function_sandboxes gauge\n";
  for (const auto& [state, n] : sandboxes) {
    out += "lode_function_sandboxes{state=\"" + state + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP lode_function_init_duration_seconds Cold start until the runtime's first next.\n";
  init_.Render(out, "lode_function_init_duration_seconds");
  out +=
      "# HELP lode_function_restore_duration_seconds SnapStart restore until the runtime's "
      "first next.\n";
  restore_.Render(out, "lode_function_restore_duration_seconds");
  out += "# HELP lode_function_invoke_duration_seconds Event delivered until its end.\n";
  invoke_.Render(out, "lode_function_invoke_duration_seconds");
  return out;
}

}  // namespace lode::functions
