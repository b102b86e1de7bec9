// What several fuzz targets share: flattening into a sink that discards, and
// the input as a file (the readers under test take paths).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <span>
#include <string>

#include "flatten/flatten.h"
#include "flatten/sink.h"
#include "image/image.h"

namespace lode::fuzz {

class NullSink : public flatten::ImageSink {
 public:
  Status WriteData(uint64_t, std::span<const uint8_t>) override { return {}; }
  Status BeginMetadata(uint64_t, uint64_t) override { return {}; }
  Status WriteMetadata(uint64_t, std::span<const uint8_t>) override { return {}; }
  Status Finish() override { return {}; }
};

// Flattens `image` (no headroom) into a NullSink; the result is not wanted.
inline void FlattenDiscarding(const image::Image& image) {
  NullSink sink;
  flatten::FlattenOptions options;
  options.headroom_bytes = 0;
  (void)flatten::Flatten(image, options, &sink);
}

// `data` in an anonymous memory file, named by its /proc/self/fd path.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) : fd_(::memfd_create("fuzz", MFD_CLOEXEC)) {
    for (size_t done = 0; fd_ >= 0 && done < size;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  ~MemoryFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace lode::fuzz
