#include "agent/overlay.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>

namespace lode::agent {

Overlay::Overlay(std::string path, UniqueFd fd, UniqueFd bits_fd, std::span<uint64_t> bits)
    : path_(std::move(path)), fd_(std::move(fd)), bits_fd_(std::move(bits_fd)), bits_(bits) {
  for (uint64_t word : bits_) pages_written_ += std::popcount(word);
}

Overlay::~Overlay() { ::munmap(bits_.data(), bits_.size_bytes()); }

Result<std::unique_ptr<Overlay>> Overlay::OpenFiles(const std::string& path, uint64_t size,
                                                    bool create) {
  int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  UniqueFd fd(::open(path.c_str(), flags, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "open overlay " + path);
  std::string bits_path = path + ".pages";
  UniqueFd bits_fd(::open(bits_path.c_str(), flags, 0600));
  if (!bits_fd.valid()) return Status::FromErrno(errno, "open overlay page map " + bits_path);
  size_t words = (size / kPageSize + 1 + 63) / 64;
  struct stat st {};
  if (::fstat(bits_fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + bits_path);
  if (create) {
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0 ||
        ::ftruncate(bits_fd.get(), static_cast<off_t>(words * 8)) != 0) {
      return Status::FromErrno(errno, "size overlay " + path);
    }
  } else if (static_cast<uint64_t>(st.st_size) != words * 8) {
    return Status::Corruption("overlay page map " + bits_path + " does not fit the image");
  }
  void* map = ::mmap(nullptr, words * 8, PROT_READ | PROT_WRITE, MAP_SHARED, bits_fd.get(), 0);
  if (map == MAP_FAILED) return Status::FromErrno(errno, "map " + bits_path);
  return std::unique_ptr<Overlay>(new Overlay(path, std::move(fd), std::move(bits_fd),
                                              std::span(static_cast<uint64_t*>(map), words)));
}

Result<std::unique_ptr<Overlay>> Overlay::Create(const std::string& path, uint64_t size) {
  return OpenFiles(path, size, true);
}

Result<std::unique_ptr<Overlay>> Overlay::Open(const std::string& path, uint64_t size) {
  return OpenFiles(path, size, false);
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
  if (::msync(bits_.data(), bits_.size_bytes(), MS_SYNC) != 0) {
    return Status::FromErrno(errno, "sync overlay page map " + path_ + ".pages");
  }
  return Status::Ok();
}

void Overlay::Discard() {
  ::unlink(path_.c_str());
  ::unlink((path_ + ".pages").c_str());
}

}  // namespace lode::agent
