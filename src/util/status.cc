#include "util/status.h"

#include <cstring>

namespace lode {

Status Status::FromErrno(int err, const std::string& context) {
  return IOError(context + ": " + std::strerror(err));
}

std::string Status::ToString() const {
  switch (code_) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not found: " + message_;
    case StatusCode::kCorruption:
      return "corrupt: " + message_;
    case StatusCode::kInvalidArgument:
      return "invalid: " + message_;
    case StatusCode::kIOError:
      return "I/O error: " + message_;
    case StatusCode::kUnavailable:
      return "unavailable: " + message_;
    case StatusCode::kRejected:
      return "rejected: " + message_;
  }
  return message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace lode
