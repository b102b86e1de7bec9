#include "util/file.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

namespace lode {

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> OpenForRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path);
    return Status::FromErrno(errno, "open " + path);
  }
  return UniqueFd(fd);
}

Result<std::string> ReadFileToString(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFileToBytes(path));
  return std::string(bytes.begin(), bytes.end());
}

Result<std::vector<uint8_t>> ReadFileToBytes(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, OpenForRead(path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == out.size()) out.resize(out.size() + 65536);  // the file grew
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Status PWriteAll(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write " + what);
    bytes = bytes.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status PReadAll(int fd, std::span<uint8_t> bytes, uint64_t offset, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read " + what);
    if (n == 0) return Status::Corruption(what + ": unexpected end of file");
    bytes = bytes.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Result<AtomicFile> AtomicFile::Create(const std::string& final_path) {
  std::string temp = final_path + ".tmp.XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "create " + temp);
  ::fchmod(fd, 0644);
  return AtomicFile(final_path, std::move(temp), UniqueFd(fd));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::move(other.fd_)),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(temp_path_.c_str());
}

Status AtomicFile::Commit(Durability durability) {
  if (durability == Durability::kSynced && ::fsync(fd_.get()) != 0) {
    return Status::FromErrno(errno, "fsync " + temp_path_);
  }
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    return Status::FromErrno(errno, "rename to " + final_path_);
  }
  committed_ = true;
  fd_.Reset();
  return Status::Ok();
}

bool IsExecutableOnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : kDefaultSearchPath;
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = std::min(dirs.find(':', start), dirs.size());
    if (::access((dirs.substr(start, end - start) + "/" + program).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string DataDir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    return std::string(xdg) + "/lode";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.local/share/lode";
}

Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           AtomicFile::Durability durability) {
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  LODE_RETURN_IF_ERROR(PWriteAll(
      file.fd(), std::span(reinterpret_cast<const uint8_t*>(contents.data()), contents.size()), 0,
      path));
  return file.Commit(durability);
}

Status CopyRangeToFile(const std::string& from, uint64_t offset, uint64_t length,
                       const std::string& to) {
  LODE_ASSIGN_OR_RETURN(UniqueFd in, OpenForRead(from));
  std::vector<uint8_t> bytes(length);
  LODE_RETURN_IF_ERROR(PReadAll(in.get(), bytes, offset, from));
  return WriteFileAtomically(
      to, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace lode
