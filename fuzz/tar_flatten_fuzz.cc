// A whole small image through the flattener: the input is one layer
// tarball (any compression, sniffed) read by libarchive and applied with the
// layer rules, into a sink that discards the ext4 image.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "flatten/flatten.h"
#include "flatten/sink.h"
#include "image/image.h"

namespace {

class NullSink : public lode::flatten::ImageSink {
 public:
  lode::Status WriteData(uint64_t, std::span<const uint8_t>) override { return {}; }
  lode::Status BeginMetadata(uint64_t, uint64_t) override { return {}; }
  lode::Status WriteMetadata(uint64_t, std::span<const uint8_t>) override { return {}; }
  lode::Status Finish() override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = ::memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  lode::Result<lode::image::Image> image = lode::image::OpenLayerTarballs({path});
  if (image.ok()) {
    NullSink sink;
    lode::flatten::FlattenOptions options;
    options.headroom_bytes = 0;
    (void)lode::flatten::Flatten(*image, options, &sink);
  }
  ::close(fd);
  return 0;
}
