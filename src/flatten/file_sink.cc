// The data region is written at the start of a temporary file; when the
// metadata size is known, FALLOC_FL_INSERT_RANGE opens a gap of data_offset
// bytes in front of it (no data is copied on ext4 and XFS). Filesystems
// without it get a copy into a second temporary file.
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "flatten/sink.h"

namespace lode::flatten {
namespace {

class FileSink : public ImageSink {
 public:
  explicit FileSink(AtomicFile file) : file_(std::move(file)) {}

  Status WriteData(uint64_t offset, std::span<const uint8_t> bytes) override {
    data_end_ = std::max(data_end_, offset + bytes.size());
    return PWriteAll(file_->fd(), bytes, offset, file_->temp_path());
  }

  Status BeginMetadata(uint64_t data_offset, uint64_t total_bytes) override {
    int fd = file_->fd();
    if (data_end_ > 0 && data_offset > 0) {
      if (::ftruncate(fd, static_cast<off_t>(data_end_)) != 0) {
        return Status::FromErrno(errno, "truncate " + file_->temp_path());
      }
      if (::fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, static_cast<off_t>(data_offset)) != 0) {
        if (errno != EOPNOTSUPP && errno != EINVAL) {
          return Status::FromErrno(errno, "shift data in " + file_->temp_path());
        }
        LODE_RETURN_IF_ERROR(CopyDataUp(data_offset));
      }
    }
    if (::ftruncate(file_->fd(), static_cast<off_t>(total_bytes)) != 0) {
      return Status::FromErrno(errno, "truncate " + file_->temp_path());
    }
    return Status::Ok();
  }

  Status WriteMetadata(uint64_t offset, std::span<const uint8_t> bytes) override {
    return PWriteAll(file_->fd(), bytes, offset, file_->temp_path());
  }

  Status Finish() override { return file_->Commit(); }

 private:
  // Fallback: a new temporary file with the data at data_offset.
  Status CopyDataUp(uint64_t data_offset) {
    LODE_ASSIGN_OR_RETURN(AtomicFile moved, AtomicFile::Create(file_->final_path()));
    loff_t in = 0, out = static_cast<loff_t>(data_offset);
    uint64_t left = data_end_;
    while (left > 0) {
      ssize_t n = ::copy_file_range(file_->fd(), &in, moved.fd(), &out, left, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "copy data region");
      left -= static_cast<uint64_t>(n);
    }
    file_.emplace(std::move(moved));
    return Status::Ok();
  }

  std::optional<AtomicFile> file_;
  uint64_t data_end_ = 0;
};

}  // namespace

Result<std::unique_ptr<ImageSink>> NewFileSink(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  return std::unique_ptr<ImageSink>(std::make_unique<FileSink>(std::move(file)));
}

}  // namespace lode::flatten
