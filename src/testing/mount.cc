#include "testing/mount.h"

#include <filesystem>

#include "testing/process.h"

namespace lode::testing {

LoopMount::LoopMount(const std::string& image, const std::string& mountpoint)
    : mountpoint_(mountpoint) {
  std::filesystem::create_directories(mountpoint);
  CommandResult r =
      RunCommand("mount -t ext4 -o ro,loop " + ShellQuote(image) + " " + ShellQuote(mountpoint));
  ok_ = r.exit_code == 0;
  error_ = r.output;
}

LoopMount::~LoopMount() {
  if (ok_) RunCommand("umount " + ShellQuote(mountpoint_));
}

}  // namespace lode::testing
