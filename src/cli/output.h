// Shared CLI plumbing: failing a command with one line, progress on a terminal.
#pragma once

#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>

#include "util/status.h"
#include "util/text.h"

namespace lode::cli {

// Thrown by a verb's callback; main prints "lode: <message>" and exits
// non-zero. Messages quote names from images and peers: control characters
// are escaped, so the message stays one line.
class CommandFailed : public std::runtime_error {
 public:
  explicit CommandFailed(const Status& status)
      : std::runtime_error(EscapeControl(status.ToString())) {}
  int exit_code() const { return 1; }
};

// Exit status 2 for a command line lode cannot use: one line naming the
// problem, with a hint at --help for the verb it was meant for.
int UsageError(const CLI::App& app, const CLI::ParseError& e);

// Thrown by a verb that has reported everything itself and must exit with
// `code` (lode run passes on its command's exit status).
struct ExitStatus {
  int code;
};

// Throws CommandFailed when `status` is not OK.
void Check(const Status& status);
template <typename T>
T Check(Result<T> result) {
  Check(result.status());
  return std::move(result).value();
}

// A one-line status display on stderr, shown only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();
  void Update(const std::string& text);

 private:
  bool enabled_;
  size_t last_width_ = 0;
};

}  // namespace lode::cli
