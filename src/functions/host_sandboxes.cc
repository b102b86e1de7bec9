#include <unistd.h>

#include "functions/host_impl.h"

namespace lode::functions {

bool Host::Impl::EvictIdleLocked() {
  std::shared_ptr<Slot> oldest;
  Pool* from = nullptr;
  for (auto& [key, pool] : pools_) {
    if (!pool.idle.empty() && (!oldest || pool.idle.back()->idle_since < oldest->idle_since)) {
      oldest = pool.idle.back();
      from = &pool;
    }
  }
  if (!oldest) return false;
  from->idle.pop_back();
  --from->live;
  --live_;
  discarded_.push_back(oldest);
  return true;
}

std::shared_ptr<Slot> Host::Impl::Acquire(const FunctionEntry& f, bool& cold) {
  std::lock_guard lock(mu_);
  Pool& pool = pools_[f.key];
  while (!pool.idle.empty()) {
    std::shared_ptr<Slot> slot = pool.idle.front();
    pool.idle.pop_front();
    if (slot->version == f.version) {
      cold = false;
      ++busy_;
      return slot;
    }
    --pool.live;  // a sandbox of an older configuration or image
    --live_;
    discarded_.push_back(slot);
  }
  int function_limit = f.config.concurrency > 0          ? static_cast<int>(f.config.concurrency)
                       : o_.max_function_concurrency > 0 ? o_.max_function_concurrency
                                                         : o_.max_sandboxes;
  if (pool.live >= function_limit) return nullptr;
  if (live_ >= o_.max_sandboxes && !EvictIdleLocked()) return nullptr;
  changed_.notify_all();  // the reaper destroys what was evicted
  auto slot = std::make_shared<Slot>();
  slot->key = f.key;
  slot->version = f.version;
  ++pool.live;
  ++live_;
  ++starting_;
  cold = true;
  return slot;
}

void Host::Impl::Release(const std::shared_ptr<Slot>& slot, bool keep) {
  std::lock_guard lock(mu_);
  --busy_;
  Pool& pool = pools_[slot->key];
  if (keep && !draining_) {
    slot->idle_since = Clock::now();
    pool.idle.push_front(slot);
    return;
  }
  --pool.live;
  --live_;
  discarded_.push_back(slot);
  changed_.notify_all();
}

std::shared_ptr<FunctionLog> Host::Impl::LogOf(const FunctionEntry& f) {
  std::lock_guard lock(mu_);
  std::shared_ptr<FunctionLog>& log = logs_[f.key];
  if (!log) {
    log =
        std::make_shared<FunctionLog>(o_.log_dir.empty() ? "" : o_.log_dir + "/" + f.key + ".log");
  }
  return log;
}

Status Host::Impl::StartSandbox(const FunctionEntry& f, Slot& slot, bool& restored) {
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++next_sandbox_;
  }
  SandboxSpec spec;
  spec.id = "lode-fn-" + std::to_string(::getpid()) + "-" + std::to_string(n);
  spec.work_dir = o_.work_dir + "/" + spec.id;
  spec.agent_socket = o_.agent_socket;
  spec.pid_namespace = o_.pid_namespace;
  spec.image_ref = f.image_ref;
  spec.function = f.config;
  spec.function_arn = f.arn;
  spec.region = o_.region;
  spec.prefetch = o_.prefetch;
  spec.vm = o_.vm;
  spec.vm_unavailable = o_.vm_unavailable;
  slot.log = LogOf(f);
  spec.output = [log = slot.log](std::string_view text) { log->Append(text); };
  slot.started = Clock::now();
  restored = false;
  if (!f.snapshot_ref.empty()) {
    SandboxSpec restore = spec;
    restore.image_ref = f.snapshot_ref;
    restore.snapstart = SnapStartPhase::kRestored;
    Result<std::unique_ptr<Sandbox>> sandbox = Sandbox::Start(restore);
    if (sandbox.ok()) {
      slot.sandbox = std::move(*sandbox);
      restored = true;
      return Status::Ok();
    }
    // Only a snapshot this host cannot run is booted around; a damaged
    // or unreadable one fails the start like any image.
    if (sandbox.status().code() != StatusCode::kFailedPrecondition) return sandbox.status();
    slot.log->Append("SnapStart: " + sandbox.status().message() + "; booting instead\n");
    metrics_.SnapStartFellBack(f.key);
    slot.started = Clock::now();
  }
  LODE_ASSIGN_OR_RETURN(slot.sandbox, Sandbox::Start(spec));
  return Status::Ok();
}

void Host::Impl::Reap() {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait_for(lock, std::chrono::seconds(1));
    Clock::time_point now = Clock::now();
    for (auto& [key, pool] : pools_) {
      while (!pool.idle.empty() &&
             (draining_ || now - pool.idle.back()->idle_since >= o_.keep_warm)) {
        discarded_.push_back(pool.idle.back());
        pool.idle.pop_back();
        --pool.live;
        --live_;
      }
    }
    std::deque<std::shared_ptr<Slot>> doomed;
    doomed.swap(discarded_);
    lock.unlock();
    doomed.clear();  // stops and cleans up each sandbox
    lock.lock();
    if (stopping_ && discarded_.empty()) return;
  }
}

}  // namespace lode::functions
