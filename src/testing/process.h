// Running commands from tests: exit status and combined output.
#pragma once

#include <string>

namespace lode::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh.
CommandResult RunCommand(const std::string& command);
// Single-quotes `arg` for the shell.
std::string ShellQuote(const std::string& arg);
// The lode binary under test: $LODE_BIN, else the one this build made.
std::string LodeBinary();
// A directory for downloads tests may reuse between runs ($LODE_CACHE_DIR,
// else the build tree's cache/).
std::string TestCacheDir();

}  // namespace lode::testing
