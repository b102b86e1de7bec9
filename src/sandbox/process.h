// The process a sandbox runs: an image's run config applied (command,
// environment, working directory, user). Shared by containers and the
// microVM's guest init (which is built from this file alone).
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

}  // namespace lode::sandbox
