#include "cli/output.h"

#include <unistd.h>

#include <cstdio>

namespace lode::cli {

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
