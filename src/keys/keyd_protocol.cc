#include "keys/keyd_protocol.h"

namespace lode::keys {

nlohmann::json ErrorAnswer(const Status& status) {
  return {{"ok", false}, {"code", static_cast<int>(status.code())}, {"error", status.message()}};
}

std::string EncodeRequest(const nlohmann::json& fields, std::string_view payload) {
  nlohmann::json with = fields;
  if (!payload.empty()) with["payload_bytes"] = payload.size();
  std::string out = with.dump() + "\n";
  out.append(payload);
  return out;
}

Result<bool> RequestReader::Fill() {
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  size_t have = buffer_.size();
  buffer_.resize(have + 16384);
  Result<size_t> n = read_(buffer_.data() + have, 16384);
  buffer_.resize(have + (n.ok() ? *n : 0));
  LODE_RETURN_IF_ERROR(n.status());
  return *n > 0;
}

Result<std::optional<Request>> RequestReader::Next() {
  size_t scanned = start_;
  size_t newline;
  while ((newline = buffer_.find('\n', scanned)) == std::string::npos) {
    scanned = buffer_.size();
    if (buffer_.size() - start_ > kMaxLineBytes) {
      return Status::InvalidArgument("request line longer than " + std::to_string(kMaxLineBytes) +
                                     " bytes");
    }
    size_t consumed = start_;
    LODE_ASSIGN_OR_RETURN(bool more, Fill());
    scanned -= consumed;
    if (!more) {
      if (buffer_.size() == start_) return std::optional<Request>();
      return Status::InvalidArgument("the stream ended inside a request line");
    }
  }
  if (newline - start_ > kMaxLineBytes) {
    return Status::InvalidArgument("request line longer than " + std::to_string(kMaxLineBytes) +
                                   " bytes");
  }
  Request r;
  r.fields =
      nlohmann::json::parse(buffer_.begin() + static_cast<std::ptrdiff_t>(start_),
                            buffer_.begin() + static_cast<std::ptrdiff_t>(newline), nullptr, false);
  start_ = newline + 1;
  if (r.fields.is_object() && r.fields.contains("payload_bytes")) {
    const nlohmann::json& n = r.fields["payload_bytes"];
    if (!n.is_number_unsigned() || n.get<uint64_t>() > kMaxPayloadBytes) {
      return Status::InvalidArgument("payload_bytes is not a size up to " +
                                     std::to_string(kMaxPayloadBytes));
    }
    size_t want = n.get<size_t>();
    while (buffer_.size() - start_ < want) {
      LODE_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return Status::InvalidArgument("the stream ended inside a request's payload");
    }
    r.payload.assign(buffer_, start_, want);
    start_ += want;
  }
  return std::optional<Request>(std::move(r));
}

}  // namespace lode::keys
