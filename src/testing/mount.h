// A kernel mount of an ext4 image through a loop device (read-only unless
// asked), undone on destruction.
#pragma once

#include <string>

namespace lode::testing {

class LoopMount {
 public:
  LoopMount(const std::string& image, const std::string& mountpoint, bool writable = false);
  ~LoopMount();
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  std::string mountpoint_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace lode::testing
