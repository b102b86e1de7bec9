#include "vm/runtime_port.h"

namespace lode::vm {
namespace {

constexpr size_t kHeaderBytes = 9;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const std::string& in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string EncodeFrame(const Frame& frame) {
  std::string out;
  out.reserve(kHeaderBytes + frame.bytes.size());
  PutU32(out, frame.connection);
  out.push_back(static_cast<char>(frame.kind));
  PutU32(out, static_cast<uint32_t>(frame.bytes.size()));
  return out + frame.bytes;
}

Result<std::vector<Frame>> TakeFrames(std::string& buffer) {
  std::vector<Frame> frames;
  size_t at = 0;
  while (buffer.size() - at >= kHeaderBytes) {
    Frame f;
    f.connection = GetU32(buffer, at);
    uint8_t kind = static_cast<uint8_t>(buffer[at + 4]);
    if (kind != static_cast<uint8_t>(FrameKind::kData) &&
        kind != static_cast<uint8_t>(FrameKind::kClose)) {
      return Status::Corruption("runtime port: unknown frame kind " + std::to_string(kind));
    }
    f.kind = static_cast<FrameKind>(kind);
    uint32_t length = GetU32(buffer, at + 5);
    if (length > kMaxFrameBytes) {
      return Status::Corruption("runtime port: frame of " + std::to_string(length) + " bytes");
    }
    if (buffer.size() - at - kHeaderBytes < length) break;
    f.bytes = buffer.substr(at + kHeaderBytes, length);
    at += kHeaderBytes + length;
    frames.push_back(std::move(f));
  }
  buffer.erase(0, at);
  return frames;
}

}  // namespace lode::vm
