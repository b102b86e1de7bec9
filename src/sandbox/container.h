// Running a command in a container whose root is a mounted image: with crun
// from a generated OCI runtime config when crun is installed, else with a
// PID namespace and chroot. The command's stdio is the caller's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/process.h"
#include "util/status.h"

namespace lode::sandbox {

enum class Runtime { kAuto, kCrun, kChroot };  // kAuto: crun when installed

struct ContainerRun {
  int exit_code = 0;  // 128 + signal when killed by one
  Runtime runtime = Runtime::kChroot;
  double start_seconds = 0;  // runtime spawned until the command started
  double run_seconds = 0;    // from then until the command exited
};

// Runs `process` with `rootfs` as its root. `work_dir` holds the runtime's
// bundle (crun) and must be outside the rootfs.
Result<ContainerRun> RunContainer(const std::string& rootfs, const ProcessSpec& process,
                                  bool writable, const std::string& work_dir,
                                  Runtime runtime = Runtime::kAuto);

// A container started by crun and not yet waited for: a function's
// sandbox, which lives across many invocations.
struct ContainerSpec {
  std::string rootfs;
  ProcessSpec process;
  bool writable = false;
  std::string work_dir;  // the bundle and crun's state; outside the rootfs
  std::string name;      // crun's container id, unique on the host
  // A network namespace to join (a path); "" shares the caller's.
  std::string network_namespace;
  // Host files bound read-only over files the image has (resolv.conf).
  std::vector<std::pair<std::string, std::string>> file_binds;
  uint64_t memory_limit_bytes = 0;  // 0: no limit
  // A PidNamespace's fd: the container's processes live in it.
  int pid_namespace = -1;
  int stdout_fd = -1, stderr_fd = -1;  // -1: the caller's
};

class Container {
 public:
  static Result<std::unique_ptr<Container>> Start(const ContainerSpec& spec);
  // Kills what is still running and waits for it.
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // Waits for the command to end: its exit code (128 + signal).
  Result<int> Wait();
  // SIGKILL to every process of the container; Wait() then returns.
  void Kill();
  // The most memory the container's cgroup used so far; 0 if unknown.
  uint64_t PeakMemoryBytes() const;
  // When crun was spawned and when the command started (the latter
  // nullopt until it has).
  std::chrono::system_clock::time_point spawned() const { return spawned_; }
  std::optional<std::chrono::system_clock::time_point> Started() const;

 private:
  explicit Container(ContainerSpec spec) : spec_(std::move(spec)) {}
  std::vector<pid_t> CgroupProcesses() const;
  ContainerSpec spec_;
  pid_t crun_ = -1;
  // Set by Wait() while Kill() may look from another thread; -1 until then.
  std::atomic<int> exit_code_{-1};
  std::chrono::system_clock::time_point spawned_;
};

// "auto", "crun" or "chroot".
Result<Runtime> ParseRuntime(const std::string& name);

}  // namespace lode::sandbox
