// A function VM's Runtime API connections, carried between the guest and
// its host over the virtio-serial port lode.runtime: the guest's init
// listens where runtimes expect the API (127.0.0.1:9001, as in Lambda) and
// relays each connection's bytes as frames; the host relays them to its
// Runtime API. Because the guest holds the runtime's connections, they
// survive a snapshot: after a restore the init sends again what the host
// had not answered (a runtime waiting in restore/next or invocation/next),
// and the new host answers it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::vm {

inline constexpr const char* kRuntimePort = "lode.runtime";
inline constexpr uint16_t kRuntimeApiPort = 9001;  // on the guest's loopback

enum class FrameKind : uint8_t {
  kData = 1,   // bytes of the connection
  kClose = 2,  // the sender's side of the connection ended
};

struct Frame {
  uint32_t connection = 0;
  FrameKind kind = FrameKind::kData;
  std::string bytes;
};

inline constexpr size_t kMaxFrameBytes = 64 << 10;

// 4 bytes connection, 1 byte kind, 4 bytes length (little-endian), bytes.
std::string EncodeFrame(const Frame& frame);
// Takes the whole frames off the front of `buffer`, leaving a partial one;
// Corruption for an unknown kind or a length over kMaxFrameBytes (the
// guest is not trusted).
Result<std::vector<Frame>> TakeFrames(std::string& buffer);

}  // namespace lode::vm
