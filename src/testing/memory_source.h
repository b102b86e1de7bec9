// An in-memory ByteSource that hands out its bytes in small reads, so
// consumers see arbitrary read boundaries.
#pragma once

#include <algorithm>
#include <string>

#include "image/byte_source.h"

namespace lode::testing {

class MemorySource : public image::ByteSource {
 public:
  explicit MemorySource(std::string data, size_t max_read = 1000)
      : data_(std::move(data)), max_read_(max_read) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    size_t n = std::min({out.size(), data_.size() - pos_, max_read_});
    std::copy_n(data_.data() + pos_, n, out.data());
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t max_read_;
  size_t pos_ = 0;
};

// Reads `source` to the end.
inline Result<std::string> ReadAllFrom(image::ByteSource& source) {
  std::string out;
  uint8_t buf[4096];
  while (true) {
    LODE_ASSIGN_OR_RETURN(size_t n, source.Read(buf));
    if (n == 0) return out;
    out.append(reinterpret_cast<char*>(buf), n);
  }
}

}  // namespace lode::testing
