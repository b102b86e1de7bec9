// Status and Result<T>: expected failures as values.
//
// A Status is either OK or carries a code and a one-line message meant for the
// user (it names the object, path or offset involved). Library code returns
// these; only the CLI prints them. Result<T> holds a T or a non-OK Status.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lode {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kCorruption,          // data failed a check: digest, checksum, format
  kInvalidArgument,     // the caller or the input is wrong
  kIOError,             // the operating system refused
  kUnavailable,         // a peer did not answer
  kRejected,            // refused by policy (admission, permissions)
  kAlreadyExists,       // the name is taken
  kFailedPrecondition,  // the object is not in a state that allows this
};

// A code received from another process; one this build does not know is
// kRejected.
StatusCode StatusCodeFromWire(int code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Rejected(std::string msg) { return {StatusCode::kRejected, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  // For a Status that crossed a process boundary as (code, message).
  static Status WithCode(StatusCode code, std::string msg) { return {code, std::move(msg)}; }
  // An IOError for a failed system call: "<context>: <strerror(err)>".
  static Status FromErrno(int err, const std::string& context);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not found: <message>" style text for the user.
  std::string ToString() const;
  // Prefixes the message with context ("reading layer 2: ...") keeping the code.
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lode

#define LODE_CONCAT_INNER(a, b) a##b
#define LODE_CONCAT(a, b) LODE_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define LODE_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::lode::Status lode_status_ = (expr);        \
    if (!lode_status_.ok()) return lode_status_; \
  } while (0)

#define LODE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

// `LODE_ASSIGN_OR_RETURN(auto x, F());` declares x from a Result or returns its error.
#define LODE_ASSIGN_OR_RETURN(lhs, expr) \
  LODE_ASSIGN_OR_RETURN_IMPL(LODE_CONCAT(lode_result_, __LINE__), lhs, expr)
