#include "agent/overlay.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cstring>

namespace lode::agent {

Overlay::Overlay(std::string path, UniqueFd fd, uint64_t size)
    : path_(std::move(path)), fd_(std::move(fd)), bits_((size / kPageSize + 1 + 63) / 64, 0) {}

Result<std::unique_ptr<Overlay>> Overlay::Create(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "create overlay " + path);
  UniqueFd owned(fd);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "size overlay " + path);
  }
  return std::unique_ptr<Overlay>(new Overlay(path, std::move(owned), size));
}

Result<std::unique_ptr<Overlay>> Overlay::Open(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open overlay " + path);
  UniqueFd owned(fd);
  std::unique_ptr<Overlay> overlay(new Overlay(path, std::move(owned), size));
  Result<std::string> bits = ReadFileToString(path + ".pages");
  if (!bits.ok() && bits.status().code() == StatusCode::kNotFound) return overlay;
  LODE_RETURN_IF_ERROR(bits.status());
  if (bits->size() != overlay->bits_.size() * 8) {
    return Status::Corruption("overlay page map " + path + ".pages does not fit the image");
  }
  std::memcpy(overlay->bits_.data(), bits->data(), bits->size());
  for (uint64_t word : overlay->bits_) overlay->pages_written_ += std::popcount(word);
  return overlay;
}

bool Overlay::AnyWritten(uint64_t offset, uint64_t length) const {
  if (pages_written_ == 0 || length == 0) return false;
  for (uint64_t page = offset / kPageSize; page <= (offset + length - 1) / kPageSize; ++page) {
    if (Written(page)) return true;
  }
  return false;
}

Status Overlay::Read(uint64_t offset, std::span<uint8_t> out) const {
  return PReadAll(fd_.get(), out, offset, path_);
}

Status Overlay::Write(uint64_t offset, std::span<const uint8_t> pages) {
  LODE_RETURN_IF_ERROR(PWriteAll(fd_.get(), pages, offset, path_));
  for (uint64_t page = offset / kPageSize; page < (offset + pages.size()) / kPageSize; ++page) {
    if (!Written(page)) {
      bits_[page / 64] |= uint64_t{1} << (page % 64);
      ++pages_written_;
    }
  }
  return Status::Ok();
}

Status Overlay::Sync() {
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno(errno, "sync overlay " + path_);
  std::string_view bits(reinterpret_cast<const char*>(bits_.data()), bits_.size() * 8);
  return WriteFileAtomically(path_ + ".pages", bits);
}

void Overlay::Discard() {
  ::unlink(path_.c_str());
  ::unlink((path_ + ".pages").c_str());
}

}  // namespace lode::agent
