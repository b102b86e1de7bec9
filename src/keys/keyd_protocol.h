// keyd's wire format, both directions (docs/formats/keyd.md). A request is
// one JSON object on a line; when it has "payload_bytes": N, N raw bytes
// follow the line (the sealed object of an open: raw, so keyd neither
// parses nor base64-decodes it). An answer is one JSON object on a line.
// Many requests per connection, one at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace lode::keys {

constexpr size_t kMaxLineBytes = 64u << 10;
constexpr size_t kMaxPayloadBytes = 64u << 20;  // a manifest of a 200 GiB image

struct Request {
  nlohmann::json fields;  // discarded (is_discarded()) when the line is not JSON
  std::string payload;
};

// An answer refusing a request: {"ok": false, "code": N, "error": "..."}.
nlohmann::json ErrorAnswer(const Status& status);

// The bytes of one request.
std::string EncodeRequest(const nlohmann::json& fields, std::string_view payload = {});

// Reads requests from a byte stream (a socket, or memory for the fuzzer).
class RequestReader {
 public:
  // Reads up to `n` bytes into `buf`; 0 at the end of the stream.
  using ReadFn = std::function<Result<size_t>(char* buf, size_t n)>;
  explicit RequestReader(ReadFn read) : read_(std::move(read)) {}

  // The next request; nullopt when the stream ends between requests.
  // InvalidArgument for a frame that cannot be read (a line or payload too
  // long, a bad payload_bytes, a stream ending inside a request): the
  // connection cannot go on after it.
  Result<std::optional<Request>> Next();

 private:
  // Reads more of the stream into buffer_; false at its end.
  Result<bool> Fill();

  ReadFn read_;
  std::string buffer_;
  size_t start_ = 0;  // where the unread part of buffer_ begins
};

}  // namespace lode::keys
