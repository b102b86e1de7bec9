// Layer decompression: the first byte picks gzip, zstd or sniffing; the
// rest is the stream. Output is capped so a bomb costs bounded time.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "image/byte_source.h"
#include "testing/memory_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::image;
  if (size == 0) return 0;
  std::span<const uint8_t> stream(data + 1, size - 1);
  Compression c = data[0] % 3 == 0   ? Compression::kGzip
                  : data[0] % 3 == 1 ? Compression::kZstd
                                     : SniffCompression(stream);
  // Odd read sizes, so stream boundaries fall anywhere.
  std::unique_ptr<ByteSource> d = NewDecompressor(
      std::make_unique<lode::testing::MemorySource>(
          std::string(reinterpret_cast<const char*>(stream.data()), stream.size()), 777),
      c, "fuzz");
  std::vector<uint8_t> buf(64 << 10);
  for (size_t total = 0; total < (64u << 20);) {
    lode::Result<size_t> n = d->Read(buf);
    if (!n.ok() || *n == 0) break;
    total += *n;
  }
  return 0;
}
