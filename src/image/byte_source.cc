#include "image/byte_source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/text.h"

namespace lode::image {

Result<uint64_t> ByteSource::Skip(uint64_t n) {
  std::vector<uint8_t> buf(std::min<uint64_t>(n, 1 << 16));
  uint64_t done = 0;
  while (done < n) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, buf.size()));
    LODE_ASSIGN_OR_RETURN(size_t got, Read(std::span(buf.data(), want)));
    if (got == 0) break;
    done += got;
  }
  return done;
}

Result<std::span<const uint8_t>> ByteSource::ReadView(std::vector<uint8_t>& scratch) {
  LODE_ASSIGN_OR_RETURN(size_t n, Read(scratch));
  return std::span<const uint8_t>(scratch.data(), n);
}

Status Drain(ByteSource& source) {
  while (true) {
    LODE_ASSIGN_OR_RETURN(uint64_t n, source.Skip(uint64_t{1} << 30));
    if (n == 0) return Status::Ok();
  }
}

namespace {

class FileSource : public ByteSource {
 public:
  FileSource(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    while (true) {
      ssize_t n = ::read(fd_.get(), out.data(), out.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read " + name_);
      return static_cast<size_t>(n);
    }
  }

  Result<uint64_t> Skip(uint64_t n) override {
    off_t cur = ::lseek(fd_.get(), 0, SEEK_CUR);
    off_t end = cur < 0 ? -1 : ::lseek(fd_.get(), 0, SEEK_END);
    if (cur < 0 || end < 0) return ByteSource::Skip(n);  // a pipe: read through
    uint64_t step = std::min<uint64_t>(n, static_cast<uint64_t>(end - cur));
    if (::lseek(fd_.get(), cur + static_cast<off_t>(step), SEEK_SET) < 0) {
      return Status::FromErrno(errno, "seek " + name_);
    }
    return step;
  }

 private:
  UniqueFd fd_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ByteSource> NewFileSource(UniqueFd fd, std::string name) {
  return std::make_unique<FileSource>(std::move(fd), std::move(name));
}

std::string Digest::Hex() const { return ToHex(bytes); }
std::string Digest::ToString() const { return "sha256:" + Hex(); }

Result<Digest> ParseDigest(const std::string& text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.rfind(kPrefix, 0) != 0 || text.size() != kPrefix.size() + 64) {
    return Status::InvalidArgument("unsupported or malformed digest '" + text + "'");
  }
  Digest d;
  if (!FromHex(std::string_view(text).substr(kPrefix.size()), d.bytes)) {
    return Status::InvalidArgument("malformed digest '" + text + "'");
  }
  return d;
}

HashingSource::HashingSource(std::unique_ptr<ByteSource> inner, std::string name,
                             std::optional<Digest> expected, std::optional<uint64_t> expected_size)
    : inner_(std::move(inner)),
      name_(std::move(name)),
      expected_(expected),
      expected_size_(expected_size) {}

Result<size_t> HashingSource::Read(std::span<uint8_t> out) {
  if (done_) return size_t{0};
  LODE_ASSIGN_OR_RETURN(size_t n, inner_->Read(out));
  if (n == 0) {
    done_ = true;
    digest_.bytes = hasher_.Finish();
    Status verified = Verify();
    mismatched_ = !verified.ok();
    LODE_RETURN_IF_ERROR(verified);
    return size_t{0};
  }
  hasher_.Update(out.first(n));
  size_ += n;
  if (expected_size_ && size_ > *expected_size_) {
    mismatched_ = true;
    return Status::Corruption(name_ + ": larger than its descriptor's size " +
                              std::to_string(*expected_size_));
  }
  return n;
}

Status HashingSource::Verify() {
  if (expected_size_ && size_ != *expected_size_) {
    return Status::Corruption(name_ + ": size " + std::to_string(size_) +
                              " does not match its descriptor's size " +
                              std::to_string(*expected_size_));
  }
  if (expected_ && !(digest_ == *expected_)) {
    return Status::Corruption(name_ + ": digest mismatch: expected " + expected_->ToString() +
                              ", content is " + digest_.ToString());
  }
  return Status::Ok();
}

Compression SniffCompression(std::span<const uint8_t> head) {
  if (head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b) return Compression::kGzip;
  if (head.size() >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f &&
      head[3] == 0xfd) {
    return Compression::kZstd;
  }
  return Compression::kNone;
}

}  // namespace lode::image
