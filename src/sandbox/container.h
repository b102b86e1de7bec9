// Running a command in a container whose root is a mounted image: with crun
// from a generated OCI runtime config when crun is installed, else with a
// PID namespace and chroot. The command's stdio is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::sandbox {

struct ProcessSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// The process an image's run config ({"entrypoint", "cmd", "env",
// "working_dir", "user"}) describes. `command`, when given, is the whole
// command line (entrypoint and cmd both replaced); otherwise entrypoint + cmd.
// User and group names are looked up in the image's /etc/passwd and
// /etc/group under `rootfs`.
Result<ProcessSpec> ProcessFromConfig(const std::string& config_json,
                                      const std::vector<std::string>& command,
                                      const std::string& rootfs);

// A waitpid status as a shell reports it: the exit code, or 128 + the
// signal that killed the process.
int ExitCodeOf(int wait_status);

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

// "auto", "crun" or "chroot".
Result<Runtime> ParseRuntime(const std::string& name);

}  // namespace lode::sandbox
