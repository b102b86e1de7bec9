#include "fuse/wire.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lode::fuse {

Result<UniqueFd> Mount(const std::string& mountpoint) {
  std::error_code ec;
  std::filesystem::create_directories(mountpoint, ec);
  if (ec) return Status::IOError("create mountpoint " + mountpoint + ": " + ec.message());
  UniqueFd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Status::FromErrno(errno, "open /dev/fuse");
  std::string options =
      "fd=" + std::to_string(fd.get()) +
      ",rootmode=40000,default_permissions,user_id=" + std::to_string(::geteuid()) +
      ",group_id=" + std::to_string(::getegid()) + ",max_read=" + std::to_string(kMaxPayload);
  if (::mount("lode", mountpoint.c_str(), "fuse.lode", MS_NOSUID | MS_NODEV, options.c_str()) !=
      0) {
    return Status::FromErrno(errno, "mount FUSE at " + mountpoint);
  }
  return fd;
}

Status Unmount(const std::string& mountpoint) {
  if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return Status::FromErrno(errno, "unmount " + mountpoint);
  }
  return Status::Ok();
}

Result<std::optional<Request>> ReadRequest(int fd, std::vector<uint8_t>& buffer) {
  ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOENT) return std::optional<Request>();
    if (errno == ENODEV) return Status::Unavailable("the FUSE file system was unmounted");
    return Status::FromErrno(errno, "read from /dev/fuse");
  }
  fuse_in_header header;
  if (static_cast<size_t>(n) < sizeof(header)) {
    return Status::Corruption("short FUSE request (" + std::to_string(n) + " bytes)");
  }
  std::memcpy(&header, buffer.data(), sizeof(header));
  if (header.len != static_cast<uint32_t>(n)) {
    return Status::Corruption("FUSE request length " + std::to_string(header.len) + " but read " +
                              std::to_string(n));
  }
  return std::optional(Request{
      header, std::span<const uint8_t>(buffer.data() + sizeof(header), n - sizeof(header))});
}

Status Reply(int fd, uint64_t unique, int error,
             std::initializer_list<std::span<const uint8_t>> parts) {
  fuse_out_header header{};
  header.unique = unique;
  header.error = -error;
  header.len = sizeof(header);
  iovec iov[8];
  size_t count = 0;
  iov[count++] = {&header, sizeof(header)};
  for (std::span<const uint8_t> part : parts) {
    if (error != 0 || part.empty() || count == std::size(iov)) continue;
    iov[count++] = {const_cast<uint8_t*>(part.data()), part.size()};
    header.len += static_cast<uint32_t>(part.size());
  }
  if (::writev(fd, iov, static_cast<int>(count)) < 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "answer a FUSE request");
  }
  return Status::Ok();
}

bool ExpectsReply(uint32_t opcode) {
  return opcode != FUSE_FORGET && opcode != FUSE_BATCH_FORGET && opcode != FUSE_INTERRUPT;
}

Status NotifyResend(int fd) {
  fuse_out_header header{};
  header.len = sizeof(header);
  header.error = kNotifyResend;
  if (::write(fd, &header, sizeof(header)) < 0) {
    return Status::FromErrno(errno, "ask the kernel to resend FUSE requests");
  }
  return Status::Ok();
}

}  // namespace lode::fuse
