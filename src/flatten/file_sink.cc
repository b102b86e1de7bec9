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
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "flatten/sink.h"

namespace lode::flatten {
namespace {

constexpr size_t kDirectAlign = 4096;
constexpr size_t kWriteBuffer = 8 << 20;
constexpr size_t kBuffersInFlight = 3;

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
// thread; at most kBuffersInFlight exist. Used by one producer thread.
class BackgroundWriter {
 public:
  BackgroundWriter(int fd, std::string name)
      : fd_(fd), name_(std::move(name)), thread_([this] { Loop(); }) {}
  ~BackgroundWriter() { (void)Finish(); }

  // Writes bytes at `offset`. For an O_DIRECT descriptor, runs of contiguous
  // writes must start and end on kDirectAlign boundaries.
  Status Write(uint64_t offset, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
      if (current_ && offset != current_offset_ + current_len_) LODE_RETURN_IF_ERROR(Submit());
      if (!current_) {
        LODE_ASSIGN_OR_RETURN(current_, TakeBuffer());
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
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  struct Job {
    AlignedBuffer buffer;
    uint64_t offset;
    size_t len;
  };

  Result<AlignedBuffer> TakeBuffer() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || allocated_ < kBuffersInFlight || !error_.ok(); });
    if (!error_.ok()) return error_;
    if (!free_.empty()) {
      AlignedBuffer b = std::move(free_.back());
      free_.pop_back();
      return b;
    }
    ++allocated_;
    return NewAlignedBuffer();
  }

  Status Submit() {
    std::lock_guard lock(mu_);
    jobs_.push_back({std::move(current_), current_offset_, current_len_});
    cv_.notify_all();
    return error_;
  }

  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Status s = PWriteAll(fd_, std::span(job.buffer.get(), job.len), job.offset, name_);
      lock.lock();
      if (!s.ok() && error_.ok()) error_ = s;
      free_.push_back(std::move(job.buffer));
      cv_.notify_all();
    }
  }

  int fd_;
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<AlignedBuffer> free_;
  size_t allocated_ = 0;
  bool stopping_ = false;
  Status error_;
  AlignedBuffer current_;
  uint64_t current_offset_ = 0;
  size_t current_len_ = 0;
  std::thread thread_;  // last: starts after the members it uses
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
