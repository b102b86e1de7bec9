#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace lode::cli {

int UsageError(const CLI::App& app, const CLI::ParseError& e) {
  std::string verb = "lode";
  for (const CLI::App* at = &app;;) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands()) {
      if (sub->parsed()) next = sub;
    }
    if (next == nullptr) break;
    verb += " " + next->get_name();
    at = next;
  }
  std::string message = e.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::fprintf(stderr, "lode: %s (see %s --help)\n", message.c_str(), verb.c_str());
  return 2;
}

void Check(const Status& status) {
  if (!status.ok()) throw CommandFailed(status);
}

ProgressLine::ProgressLine() : enabled_(::isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (enabled_ && last_width_ > 0)
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(last_width_), "");
}

void ProgressLine::Update(const std::string& text) {
  if (!enabled_) return;
  std::fprintf(stderr, "\r%s", text.c_str());
  if (text.size() < last_width_)
    std::fprintf(stderr, "%*s", static_cast<int>(last_width_ - text.size()), "");
  std::fflush(stderr);
  last_width_ = text.size();
}

}  // namespace lode::cli
