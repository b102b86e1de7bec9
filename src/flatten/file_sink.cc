// The data region is written at the start of a temporary file; when the
// metadata size is known, FALLOC_FL_INSERT_RANGE opens a gap of data_offset
// bytes in front of it (no data is copied on ext4 and XFS). Filesystems
// without it get a copy into a second temporary file.
//
// Data is gathered into large buffers and written by a background thread,
// with O_DIRECT: the image must reach the disk before it is renamed into
// place anyway, and buffered writes would cost a copy into the page cache plus
// a writeback the shift and the final fsync must wait for. Where O_DIRECT is
// refused (tmpfs), the same thread writes through the page cache.
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "flatten/sink.h"
#include "util/task_queue.h"

namespace lode::flatten {
namespace {

constexpr size_t kDirectAlign = 4096;
constexpr size_t kWriteBuffer = 8 << 20;
constexpr size_t kWritesQueued = 2;

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, AlignedFree>;

AlignedBuffer NewAlignedBuffer() {
  void* p = std::aligned_alloc(kDirectAlign, kWriteBuffer);
  if (p == nullptr) std::abort();
  return AlignedBuffer(static_cast<uint8_t*>(p));
}

// Gathers contiguous writes into buffers and writes whole buffers on its own
// thread. Used by one producer thread.
class BackgroundWriter {
 public:
  BackgroundWriter(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~BackgroundWriter() { (void)Finish(); }

  // Writes bytes at `offset`. For an O_DIRECT descriptor, runs of contiguous
  // writes must start and end on kDirectAlign boundaries.
  Status Write(uint64_t offset, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
      if (current_ && offset != current_offset_ + current_len_) LODE_RETURN_IF_ERROR(Submit());
      if (!current_) {
        current_ = TakeBuffer();
        current_offset_ = offset;
        current_len_ = 0;
      }
      size_t n = std::min(bytes.size(), kWriteBuffer - current_len_);
      std::memcpy(current_.get() + current_len_, bytes.data(), n);
      current_len_ += n;
      offset += n;
      bytes = bytes.subspan(n);
      if (current_len_ == kWriteBuffer) LODE_RETURN_IF_ERROR(Submit());
    }
    return Status::Ok();
  }

  // Writes what is pending and stops the thread; returns the first error.
  Status Finish() {
    if (current_) (void)Submit();
    return queue_.Finish();
  }

 private:
  // The queue's bound also bounds the buffers: one is filled while at most
  // kWritesQueued are queued or being written.
  AlignedBuffer TakeBuffer() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return NewAlignedBuffer();
    AlignedBuffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }

  Status Submit() {
    auto buffer = std::make_shared<AlignedBuffer>(std::move(current_));
    return queue_.Submit([this, buffer, offset = current_offset_, len = current_len_] {
      Status s = PWriteAll(fd_, std::span(buffer->get(), len), offset, name_);
      std::lock_guard lock(mu_);
      free_.push_back(std::move(*buffer));
      return s;
    });
  }

  int fd_;
  std::string name_;
  std::mutex mu_;
  std::vector<AlignedBuffer> free_;
  AlignedBuffer current_;
  uint64_t current_offset_ = 0;
  size_t current_len_ = 0;
  TaskQueue queue_{1, kWritesQueued};  // last: stops before the members it uses
};

class FileSink : public ImageSink {
 public:
  explicit FileSink(AtomicFile file) : file_(std::move(file)) {
    int fd = ::open(file_->temp_path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd >= 0) direct_fd_ = UniqueFd(fd);
    writer_.emplace(direct_fd_.valid() ? direct_fd_.get() : file_->fd(), file_->temp_path());
  }

  Status WriteData(uint64_t offset, std::span<const uint8_t> bytes) override {
    data_end_ = std::max(data_end_, offset + bytes.size());
    if (direct_fd_.valid() && (offset % kDirectAlign != 0 || bytes.size() % kDirectAlign != 0)) {
      return Status::InvalidArgument("data region write not aligned to 4 KiB");
    }
    return writer_->Write(offset, bytes);
  }

  Status BeginMetadata(uint64_t data_offset, uint64_t total_bytes) override {
    if (writer_) {
      Status written = writer_->Finish();
      writer_.reset();
      direct_fd_.Reset();
      LODE_RETURN_IF_ERROR(written);
    }
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
  UniqueFd direct_fd_;
  std::optional<BackgroundWriter> writer_;  // after direct_fd_: stops before it closes
  uint64_t data_end_ = 0;
};

}  // namespace

Result<std::unique_ptr<ImageSink>> NewFileSink(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  return std::unique_ptr<ImageSink>(std::make_unique<FileSink>(std::move(file)));
}

}  // namespace lode::flatten
