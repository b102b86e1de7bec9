// Owned file descriptors, whole-file helpers, and atomic output files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode {

// Owns one file descriptor; closes it on destruction. Movable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

Result<UniqueFd> OpenForRead(const std::string& path);
Result<std::string> ReadFileToString(const std::string& path);
// The whole file in one buffer sized from its length (no regrowing).
Result<std::vector<uint8_t>> ReadFileToBytes(const std::string& path);
// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
Status PWriteAll(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& what);
// Reads exactly bytes.size() at `offset`; a short file is Corruption.
Status PReadAll(int fd, std::span<uint8_t> bytes, uint64_t offset, const std::string& what);

// A file that appears at its final path only when Commit() succeeds: it is
// written under a temporary name in the same directory, fsynced, then renamed.
// Destroying an uncommitted AtomicFile removes the temporary file, so a failed
// run leaves nothing behind. Not thread-safe.
class AtomicFile {
 public:
  static Result<AtomicFile> Create(const std::string& final_path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  int fd() const { return fd_.get(); }
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  // kUnsynced skips the fsync: for caches, whose readers verify what they
  // read, so a file torn by a power loss is detected rather than trusted.
  enum class Durability { kSynced, kUnsynced };
  Status Commit(Durability durability = Durability::kSynced);

 private:
  AtomicFile(std::string final_path, std::string temp_path, UniqueFd fd)
      : final_path_(std::move(final_path)), temp_path_(std::move(temp_path)), fd_(std::move(fd)) {}
  std::string final_path_;
  std::string temp_path_;
  UniqueFd fd_;
  bool committed_ = false;
};

// The usual system directories: PATH where none is set.
inline constexpr const char* kDefaultSearchPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// True when `program` can be executed: a path, or a name found in $PATH
// (kDefaultSearchPath when PATH is unset).
bool IsExecutableOnPath(const std::string& program);

// lode's per-user data directory: $XDG_DATA_HOME/lode, else ~/.local/share/lode.
std::string DataDir();

// Writes `contents` to `path` atomically (AtomicFile); kUnsynced for
// scratch files that need not survive a power loss.
// Writes all of `bytes` to `fd`, a socket (never raising SIGPIPE) or any
// other descriptor; false on an error or a closed peer.
bool WriteAll(int fd, std::string_view bytes);

// Copies `length` bytes at `offset` of `from` to a new file `to`
// (written atomically).
Status CopyRangeToFile(const std::string& from, uint64_t offset, uint64_t length,
                       const std::string& to);

Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           AtomicFile::Durability durability = AtomicFile::Durability::kSynced);

}  // namespace lode
