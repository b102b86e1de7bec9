#include "functions/host.h"

#include <signal.h>

#include <filesystem>

#include "functions/host_impl.h"
#include "functions/runtime_api.h"
#include "sandbox/lifetime.h"

namespace lode::functions {
namespace {

namespace fs = std::filesystem;
using std::chrono::duration;
using std::chrono::milliseconds;

int64_t NowMillis() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Millis(Clock::duration d) { return duration<double, std::milli>(d).count(); }

// A result for `request` with a new request id; kTooLarge when its
// payload is.
InvokeResult Begin(const InvokeRequest& request) {
  InvokeResult result;
  result.request_id = NewRequestId();
  if (request.payload.size() > kMaxPayloadBytes) result.status = InvokeStatus::kTooLarge;
  return result;
}

}  // namespace

std::string LogTail(const std::string& log, size_t max) {
  return log.size() > max ? log.substr(log.size() - max) : log;
}

Host::Impl::~Impl() {
  Drain();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : event_workers_) t.join();
  if (reaper_.joinable()) reaper_.join();
}

void Host::Impl::StartThreads() {
  reaper_ = std::thread([this] { Reap(); });
  int workers = std::max(1, std::min(o_.max_sandboxes, 8));
  for (int i = 0; i < workers; ++i) event_workers_.emplace_back([this] { RunEvents(); });
}

std::optional<FunctionEntry> Host::Impl::Lookup(const std::string& name, InvokeResult& result) {
  Result<FunctionEntry> f = directory_.Find(name);
  if (f.ok()) {
    result.function_arn = f->arn;
    return std::move(*f);
  }
  bool missing = f.status().code() == StatusCode::kNotFound;
  result.status = missing ? InvokeStatus::kNotFound : InvokeStatus::kStartFailed;
  result.message = f.status().message();
  return std::nullopt;
}

InvokeResult Host::Impl::Invoke(const InvokeRequest& request) {
  InvokeResult result = Begin(request);
  if (result.status == InvokeStatus::kTooLarge) return result;
  {
    std::lock_guard lock(mu_);
    if (draining_) {
      result.status = InvokeStatus::kDraining;
      result.message = "the host is shutting down";
      return result;
    }
    ++running_;
  }
  std::optional<FunctionEntry> f = Lookup(request.function, result);
  if (f) result = Run(*f, request, result);
  std::lock_guard lock(mu_);
  --running_;
  changed_.notify_all();
  return result;
}

InvokeResult Host::Impl::Run(const FunctionEntry& f, const InvokeRequest& request,
                             InvokeResult result) {
  bool cold = false;
  std::shared_ptr<Slot> slot = Acquire(f, cold);
  if (!slot) {
    metrics_.Throttled(f.key);
    result.status = InvokeStatus::kThrottled;
    result.message = "Rate Exceeded.";
    return result;
  }
  InvocationReport report;
  report.request_id = result.request_id;
  report.tenant = f.config.tenant;
  report.function = f.config.name;
  report.memory_mib = f.config.memory_mib;
  report.start = cold ? StartKind::kCold : StartKind::kWarm;
  std::optional<InvocationEnd> end;
  if (cold) {
    bool restored = false;
    Status started = StartSandbox(f, *slot, restored);
    if (restored) report.start = StartKind::kRestore;
    {
      std::lock_guard lock(mu_);
      --starting_;
      ++busy_;
    }
    if (!started.ok()) {
      Release(slot, false);
      result.status = InvokeStatus::kStartFailed;
      result.message = "the function's sandbox did not start: " + started.message();
      return result;
    }
    end = slot->sandbox->api().AwaitInit(o_.init_timeout);
    report.init_duration_ms = Millis(Clock::now() - slot->started);
    const StartPhases& p = slot->sandbox->phases();
    report.attach_ms = p.attach_seconds * 1000;
    report.mount_ms = p.mount_seconds * 1000;
    report.network_ms = p.network_seconds * 1000;
    report.spawn_ms = p.spawn_seconds * 1000;
  }
  metrics_.Invoked(f.key, report.start, report.init_duration_ms / 1000.0);
  FunctionLog& log = *slot->log;
  log.BeginTail();
  log.Append("START RequestId: " + result.request_id + " Version: $LATEST\n");
  if (!end) {
    Invocation inv;
    inv.request_id = result.request_id;
    inv.payload = request.payload.empty() ? "{}" : request.payload;
    inv.client_context = request.client_context;
    inv.cognito_identity = request.cognito_identity;
    inv.trace_id = request.trace_id.empty() ? NewTraceId() : request.trace_id;
    inv.timeout = std::chrono::seconds(f.config.timeout_seconds);
    end = slot->sandbox->api().Invoke(inv);
    report.duration_ms = Millis(end->ended - end->delivered);
  }
  static const std::map<Outcome, std::string> kOutcomes = {{Outcome::kResponse, "response"},
                                                           {Outcome::kFunctionError, "error"},
                                                           {Outcome::kTimedOut, "timeout"},
                                                           {Outcome::kExited, "exit"},
                                                           {Outcome::kInitError, "init_error"}};
  report.outcome = kOutcomes.at(end->outcome);
  report.error_type = end->error_type;
  bool keep = end->outcome == Outcome::kResponse || end->outcome == Outcome::kFunctionError;
  if (!keep) slot->sandbox->Kill();
  report.max_memory_used_bytes = slot->sandbox->PeakMemoryBytes();
  if (report.start == StartKind::kRestore) report.restore_loads = slot->sandbox->SnapshotLoads();
  report.time_ms = NowMillis();
  Record(report, log);
  result.payload = end->body;
  result.function_error = end->outcome != Outcome::kResponse;
  if (request.tail_log) result.log_tail = log.Tail();
  metrics_.Ended(f.key, report.outcome, report.duration_ms / 1000.0);
  Release(slot, keep);
  return result;
}

void Host::Impl::Record(const InvocationReport& report, FunctionLog& log) {
  if (report.outcome == "timeout") {
    log.Append(std::to_string(report.time_ms) + " " + report.request_id + " Task timed out after " +
               std::to_string(report.duration_ms / 1000.0) + " seconds\n");
  }
  log.Append("END RequestId: " + report.request_id + "\n" + ReportLine(report) + "\n");
  if (reports_) reports_->Append(ReportJson(report) + "\n");
}

InvokeResult Host::Impl::Enqueue(const InvokeRequest& request) {
  InvokeResult result = Begin(request);
  if (result.status == InvokeStatus::kTooLarge) return result;
  if (!Lookup(request.function, result)) return result;
  std::lock_guard lock(mu_);
  if (draining_) {
    result.status = InvokeStatus::kDraining;
    result.message = "the host is shutting down";
  } else if (events_.size() >= o_.max_queued_events) {
    result.status = InvokeStatus::kThrottled;
    result.message = "the host's event queue is full";
  } else {
    events_.push_back(request);
    result.status = InvokeStatus::kAccepted;
    changed_.notify_all();
  }
  return result;
}

InvokeResult Host::Impl::Check(const InvokeRequest& request) {
  InvokeResult result;
  result.request_id = NewRequestId();
  Lookup(request.function, result);
  return result;
}

void Host::Impl::RunEvents() {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !events_.empty(); });
    if (events_.empty()) return;  // stopping, nothing left
    InvokeRequest request = std::move(events_.front());
    events_.pop_front();
    ++running_;
    lock.unlock();
    std::optional<FunctionEntry> f;
    InvokeResult result;
    result.request_id = NewRequestId();
    // Throttled events wait for a sandbox, as Lambda's event queue does.
    for (int attempt = 0; attempt < 600; ++attempt) {
      f = Lookup(request.function, result);
      if (!f) break;
      result = Run(*f, request, result);
      if (result.status != InvokeStatus::kThrottled) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    lock.lock();
    --running_;
    changed_.notify_all();
  }
}

void Host::Impl::Drain() {
  std::unique_lock lock(mu_);
  draining_ = true;
  changed_.notify_all();
  changed_.wait(lock, [&] { return running_ == 0 && events_.empty(); });
  for (auto& [key, pool] : pools_) {
    for (std::shared_ptr<Slot>& slot : pool.idle) discarded_.push_back(slot);
    pool.live -= static_cast<int>(pool.idle.size());
    live_ -= static_cast<int>(pool.idle.size());
    pool.idle.clear();
  }
  std::deque<std::shared_ptr<Slot>> doomed;
  doomed.swap(discarded_);
  lock.unlock();
  doomed.clear();
}

std::string Host::Impl::Metrics() {
  std::map<std::string, int> sandboxes;
  {
    std::lock_guard lock(mu_);
    sandboxes = {{"starting", starting_}, {"busy", busy_}, {"idle", live_ - busy_ - starting_}};
  }
  return metrics_.Render(sandboxes);
}

Host::Host(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Host::~Host() = default;

Result<std::unique_ptr<Host>> Host::Start(HostOptions options) {
  if (options.tenants.empty()) return Status::InvalidArgument("the host serves no tenant");
  for (const std::string& t : options.tenants) LODE_RETURN_IF_ERROR(keys::ValidateTenant(t));
  // Cgroups of sandboxes of hosts that were killed.
  sandbox::RemoveContainerCgroups([](const std::string& name) {
    int pid = 0;
    return std::sscanf(name.c_str(), "lode-fn-%d-", &pid) == 1 && pid > 0 && ::kill(pid, 0) != 0 &&
           errno == ESRCH;
  });
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return Status::IOError("create " + options.work_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->StartThreads();
  return std::unique_ptr<Host>(new Host(std::move(impl)));
}

InvokeResult Host::Invoke(const InvokeRequest& r) { return impl_->Invoke(r); }
InvokeResult Host::Enqueue(const InvokeRequest& r) { return impl_->Enqueue(r); }
InvokeResult Host::Check(const InvokeRequest& r) { return impl_->Check(r); }
void Host::Drain() { impl_->Drain(); }
std::string Host::Metrics() { return impl_->Metrics(); }

}  // namespace lode::functions
