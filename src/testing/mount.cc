#include "testing/mount.h"

#include <filesystem>

#include "testing/process.h"

namespace lode::testing {

LoopMount::LoopMount(const std::string& image, const std::string& mountpoint, bool writable)
    : mountpoint_(mountpoint) {
  std::filesystem::create_directories(mountpoint);
  std::string options = writable ? "rw,loop" : "ro,loop";
  CommandResult r = RunCommand("mount -t ext4 -o " + options + " " + ShellQuote(image) + " " +
                               ShellQuote(mountpoint));
  ok_ = r.exit_code == 0;
  error_ = r.output;
}

LoopMount::~LoopMount() {
  if (ok_) RunCommand("umount " + ShellQuote(mountpoint_));
}

}  // namespace lode::testing
