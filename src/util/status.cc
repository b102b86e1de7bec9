#include "util/status.h"

#include <cstring>

namespace lode {

StatusCode StatusCodeFromWire(int code) {
  if (code <= 0 || code > static_cast<int>(StatusCode::kFailedPrecondition)) {
    return StatusCode::kRejected;
  }
  return static_cast<StatusCode>(code);
}

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
    case StatusCode::kAlreadyExists:
      return "already exists: " + message_;
    case StatusCode::kFailedPrecondition:
      return "not possible now: " + message_;
  }
  return message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace lode
