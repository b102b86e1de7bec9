// Layer decompression: the first byte picks gzip, zstd or sniffing; the
// rest is the stream. Output is capped so a bomb costs bounded time.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "image/byte_source.h"

namespace {

class Bytes : public lode::image::ByteSource {
 public:
  explicit Bytes(std::span<const uint8_t> data) : data_(data) {}
  lode::Result<size_t> Read(std::span<uint8_t> out) override {
    // Odd read sizes, so stream boundaries fall anywhere.
    size_t n = std::min({out.size(), data_.size() - pos_, size_t{777}});
    std::copy_n(data_.data() + pos_, n, out.data());
    pos_ += n;
    return n;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::image;
  if (size == 0) return 0;
  std::span<const uint8_t> stream(data + 1, size - 1);
  Compression c = data[0] % 3 == 0   ? Compression::kGzip
                  : data[0] % 3 == 1 ? Compression::kZstd
                                     : SniffCompression(stream);
  std::unique_ptr<ByteSource> d = NewDecompressor(std::make_unique<Bytes>(stream), c, "fuzz");
  std::vector<uint8_t> buf(64 << 10);
  for (size_t total = 0; total < (64u << 20);) {
    lode::Result<size_t> n = d->Read(buf);
    if (!n.ok() || *n == 0) break;
    total += *n;
  }
  return 0;
}
