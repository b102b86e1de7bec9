// A `docker save` tarball as `lode flatten` opens it (image/image.h
// OpenImage: manifest.json, the config, the layer members with their digest
// checks), flattened into a sink that discards the ext4 image.
#include <cstdint>

#include "fuzz_util.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lode::fuzz::MemoryFile file(data, size);
  lode::Result<lode::image::Image> image = lode::image::OpenImage(file.path(), {});
  if (image.ok()) lode::fuzz::FlattenDiscarding(*image);
  return 0;
}
