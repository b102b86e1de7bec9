#include "sandbox/mount.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "util/file.h"

namespace lode::sandbox {
namespace {

constexpr uint32_t kLoopBlockSize = 4096;

struct LoopDevice {
  std::string path;
  UniqueFd fd;  // autoclear frees the device when the last holder closes it
};

// A free loop device configured for `file`; retries when another process
// takes the device between the two calls.
Result<LoopDevice> AttachLoop(const std::string& file, bool writable) {
  UniqueFd backing(::open(file.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_DIRECT));
  if (!backing.valid()) return Status::FromErrno(errno, "open " + file + " for direct I/O");
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) return Status::FromErrno(errno, "open /dev/loop-control");
  for (int attempt = 0; attempt < 16; ++attempt) {
    int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) return Status::FromErrno(errno, "find a free loop device");
    std::string device = "/dev/loop" + std::to_string(number);
    UniqueFd dev(::open(device.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
    if (!dev.valid()) return Status::FromErrno(errno, "open " + device);
    loop_config config{};
    config.fd = static_cast<uint32_t>(backing.get());
    config.block_size = kLoopBlockSize;
    config.info.lo_flags = LO_FLAGS_DIRECT_IO | LO_FLAGS_AUTOCLEAR;
    if (!writable) config.info.lo_flags |= LO_FLAGS_READ_ONLY;
    if (::ioctl(dev.get(), LOOP_CONFIGURE, &config) == 0) return LoopDevice{device, std::move(dev)};
    if (errno != EBUSY) return Status::FromErrno(errno, "configure " + device + " for " + file);
  }
  return Status::Unavailable("no free loop device for " + file);
}

}  // namespace

Result<std::unique_ptr<Mount>> Mount::Ext4(const std::string& block_file, const std::string& target,
                                           bool writable) {
  std::error_code ec;
  std::filesystem::create_directories(target, ec);
  if (ec) return Status::IOError("create mountpoint " + target + ": " + ec.message());
  // `loop` keeps the device until the mount holds it; autoclear then frees
  // it once the mount is gone, or at once if mounting fails.
  LODE_ASSIGN_OR_RETURN(LoopDevice loop, AttachLoop(block_file, writable));
  const std::string& device = loop.path;
  unsigned long flags = MS_NODEV | (writable ? 0 : MS_RDONLY);
  if (::mount(device.c_str(), target.c_str(), "ext4", flags, nullptr) != 0) {
    return Status::FromErrno(errno, "mount " + block_file + " (" + device + ") at " + target);
  }
  return std::unique_ptr<Mount>(new Mount(target));
}

Status Mount::Unmount() {
  if (!mounted_) return Status::Ok();
  if (::umount2(target_.c_str(), 0) != 0) {
    int err = errno;
    ::umount2(target_.c_str(), MNT_DETACH);
    mounted_ = false;
    return Status::FromErrno(err, "unmount " + target_ + " (detached lazily)");
  }
  mounted_ = false;
  return Status::Ok();
}

Mount::~Mount() { (void)Unmount(); }

Status EnterPrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) return Status::FromErrno(errno, "unshare the mount namespace");
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::FromErrno(errno, "make mounts private");
  }
  return Status::Ok();
}

}  // namespace lode::sandbox
