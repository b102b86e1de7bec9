// The FUSE wire protocol on /dev/fuse (linux/fuse.h), as much of it as
// lode's block files need, spoken directly rather than through libfuse:
// libfuse cannot resume a connection whose INIT an earlier process
// answered, and resuming is what lets the agent restart under running
// containers (docs/design.md, "Agent restarts"). Mounting, reading requests,
// replying, and the resend notification.
#pragma once

#include <linux/fuse.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/file.h"
#include "util/status.h"

namespace lode::fuse {

// Linux 6.9+; newer than the uapi header Debian 12 ships.
inline constexpr int32_t kNotifyResend = 7;            // FUSE_NOTIFY_RESEND
inline constexpr uint64_t kUniqueResend = 1ull << 63;  // FUSE_UNIQUE_RESEND

// Largest READ/WRITE payload: the loop driver's direct I/O sends up to 1 MiB.
inline constexpr uint32_t kMaxPayload = 1 << 20;
// A buffer that holds any request (a 1 MiB write and its headers).
inline constexpr size_t kRequestBufferSize = kMaxPayload + 4096;

// Opens /dev/fuse and mounts a "fuse.lode" file system for the calling
// user at `mountpoint` (created if missing). The descriptor is nonblocking.
Result<UniqueFd> Mount(const std::string& mountpoint);
// Detaches the mount (lazily: files still open keep it until closed).
Status Unmount(const std::string& mountpoint);

struct Request {
  fuse_in_header header;
  std::span<const uint8_t> body;  // what follows the header
  // The body as a T, or null if it is too short.
  template <class T>
  const T* Arg() const {
    return body.size() >= sizeof(T) ? reinterpret_cast<const T*>(body.data()) : nullptr;
  }
};

// Reads one request into `buffer` (kRequestBufferSize). nullopt when none is
// waiting or the one read was withdrawn; Unavailable once unmounted.
Result<std::optional<Request>> ReadRequest(int fd, std::vector<uint8_t>& buffer);
// Answers request `unique`: `error` is 0 or an errno; `parts` the payload.
// A request the kernel withdrew meanwhile (ENOENT) is not an error.
Status Reply(int fd, uint64_t unique, int error,
             std::initializer_list<std::span<const uint8_t>> parts = {});
template <class T>
Status ReplyStruct(int fd, uint64_t unique, const T& value) {
  return Reply(fd, unique, 0, {std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T))});
}
// False for the requests the kernel expects no answer to.
bool ExpectsReply(uint32_t opcode);
// Asks the kernel to queue again every request that was read but not
// answered (by a process that died, say); they come back with
// kUniqueResend set in their unique.
Status NotifyResend(int fd);

}  // namespace lode::fuse
