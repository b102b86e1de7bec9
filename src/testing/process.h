// Running commands from tests: exit status and combined output.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace lode::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh.
CommandResult RunCommand(const std::string& command);
// Starts `command` with /bin/sh and returns at once; its stdin is
// `stdin_fd` when given, else ours. The caller waits for the pid.
pid_t StartCommand(const std::string& command, int stdin_fd = -1);
// Whether something accepts connections on the Unix socket `path`.
bool SocketAnswers(const std::string& path);
// Waits until `socket` answers while the child `pid` lives: false when it
// exits (pid becomes -1) or `patience` passes.
bool AwaitSocket(pid_t& pid, const std::string& socket, std::chrono::milliseconds patience);
// Single-quotes `arg` for the shell.
std::string ShellQuote(const std::string& arg);
// The lode binary under test: $LODE_BIN, else the one this build made.
std::string LodeBinary();
// A directory for downloads tests may reuse between runs ($LODE_CACHE_DIR,
// else the build tree's cache/).
std::string TestCacheDir();

}  // namespace lode::testing
