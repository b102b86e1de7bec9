// A whole small image through the flattener: the input is one layer
// tarball (any compression, sniffed) read by libarchive and applied with the
// layer rules, into a sink that discards the ext4 image.
#include <cstdint>

#include "fuzz_util.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lode::fuzz::MemoryFile file(data, size);
  lode::Result<lode::image::Image> image = lode::image::OpenLayerTarballs({file.path()});
  if (image.ok()) lode::fuzz::FlattenDiscarding(*image);
  return 0;
}
