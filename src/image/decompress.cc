// Streaming decompressors behind ByteSource. Input is pulled from the inner
// source in 256 KiB reads; output goes straight into the caller's buffer.
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <algorithm>
#include <vector>

#include "image/byte_source.h"

namespace lode::image {
namespace {

constexpr size_t kInputBuffer = 256 * 1024;

// Holds input pulled from the inner source that the decoder has not consumed.
class InputBuffer {
 public:
  explicit InputBuffer(ByteSource* inner) : inner_(inner), buf_(kInputBuffer) {}
  // Refills when empty; returns false at the end of the inner stream.
  Result<bool> Fill() {
    if (pos_ < len_) return true;
    if (eof_) return false;
    LODE_ASSIGN_OR_RETURN(size_t n, inner_->Read(buf_));
    pos_ = 0;
    len_ = n;
    eof_ = n == 0;
    return n > 0;
  }
  uint8_t* data() { return buf_.data() + pos_; }
  size_t size() const { return len_ - pos_; }
  void Consume(size_t n) { pos_ += n; }

 private:
  ByteSource* inner_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)), in_(inner_.get()) {
    ResetMember();
  }

  Result<size_t> Read(std::span<uint8_t> out) override {
    while (!finished_) {
      if (state_.block_state == ISAL_BLOCK_FINISH) {
        LODE_RETURN_IF_ERROR(StartNextMember());
        continue;
      }
      LODE_ASSIGN_OR_RETURN(bool more, in_.Fill());
      state_.next_in = in_.data();
      state_.avail_in = static_cast<uint32_t>(in_.size());
      state_.next_out = out.data();
      state_.avail_out = static_cast<uint32_t>(out.size());
      int rc = isal_inflate(&state_);
      in_.Consume(in_.size() - state_.avail_in);
      if (rc < 0)
        return Status::Corruption(name_ + ": corrupt gzip data (igzip error " + std::to_string(rc) +
                                  ")");
      size_t produced = out.size() - state_.avail_out;
      if (produced > 0) return produced;
      if (!more && state_.block_state != ISAL_BLOCK_FINISH) {
        return Status::Corruption(name_ + ": truncated gzip stream");
      }
    }
    return size_t{0};
  }

 private:
  void ResetMember() {
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP;
  }

  // After a member ends: another member, zero padding, or the end.
  Status StartNextMember() {
    LODE_ASSIGN_OR_RETURN(bool more, in_.Fill());
    if (!more) {
      finished_ = true;
      return Status::Ok();
    }
    if (in_.data()[0] == 0x1f) {
      ResetMember();
      return Status::Ok();
    }
    // Some tools pad gzip files with zeros; anything else is garbage.
    while (more) {
      for (size_t i = 0; i < in_.size(); ++i) {
        if (in_.data()[i] != 0) return Status::Corruption(name_ + ": garbage after gzip stream");
      }
      in_.Consume(in_.size());
      LODE_ASSIGN_OR_RETURN(more, in_.Fill());
    }
    finished_ = true;
    return Status::Ok();
  }

  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  InputBuffer in_;
  inflate_state state_{};
  bool finished_ = false;
};

class ZstdSource : public ByteSource {
 public:
  ZstdSource(std::unique_ptr<ByteSource> inner, std::string name)
      : inner_(std::move(inner)),
        name_(std::move(name)),
        in_(inner_.get()),
        ctx_(ZSTD_createDStream()) {}
  ~ZstdSource() override { ZSTD_freeDStream(ctx_); }

  Result<size_t> Read(std::span<uint8_t> out) override {
    while (true) {
      LODE_ASSIGN_OR_RETURN(bool more, in_.Fill());
      if (!more && !output_pending_) {
        if (frame_open_) return Status::Corruption(name_ + ": truncated zstd stream");
        return size_t{0};
      }
      ZSTD_inBuffer input{in_.data(), in_.size(), 0};
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      size_t rc = ZSTD_decompressStream(ctx_, &output, &input);
      in_.Consume(input.pos);
      if (ZSTD_isError(rc)) {
        return Status::Corruption(name_ + ": corrupt zstd data: " + ZSTD_getErrorName(rc));
      }
      frame_open_ = rc != 0;
      // A full output buffer may leave decoded bytes inside the decoder.
      output_pending_ = output.pos == output.size;
      if (output.pos > 0) return output.pos;
    }
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  InputBuffer in_;
  ZSTD_DStream* ctx_;
  bool frame_open_ = false;
  bool output_pending_ = false;
};

// Reads the first bytes, picks the decompressor from them, then replays them.
class AutoSource : public ByteSource {
 public:
  AutoSource(std::unique_ptr<ByteSource> inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    if (!chosen_) LODE_RETURN_IF_ERROR(Choose());
    return chosen_->Read(out);
  }

 private:
  // Hands out the sniffed prefix before the rest of the inner stream.
  class Replay : public ByteSource {
   public:
    Replay(std::vector<uint8_t> head, std::unique_ptr<ByteSource> inner)
        : head_(std::move(head)), inner_(std::move(inner)) {}
    Result<size_t> Read(std::span<uint8_t> out) override {
      if (pos_ == head_.size()) return inner_->Read(out);
      size_t n = std::min(out.size(), head_.size() - pos_);
      std::copy_n(head_.begin() + static_cast<ptrdiff_t>(pos_), n, out.begin());
      pos_ += n;
      return n;
    }

   private:
    std::vector<uint8_t> head_;
    size_t pos_ = 0;
    std::unique_ptr<ByteSource> inner_;
  };

  Status Choose() {
    std::vector<uint8_t> head(4);
    size_t got = 0;
    while (got < head.size()) {
      LODE_ASSIGN_OR_RETURN(size_t n, inner_->Read(std::span(head).subspan(got)));
      if (n == 0) break;
      got += n;
    }
    head.resize(got);
    Compression c = SniffCompression(head);
    chosen_ =
        NewDecompressor(std::make_unique<Replay>(std::move(head), std::move(inner_)), c, name_);
    return Status::Ok();
  }

  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  std::unique_ptr<ByteSource> chosen_;
};

}  // namespace

std::unique_ptr<ByteSource> NewDecompressor(std::unique_ptr<ByteSource> inner, Compression c,
                                            std::string name) {
  switch (c) {
    case Compression::kGzip:
      return std::make_unique<GzipSource>(std::move(inner), std::move(name));
    case Compression::kZstd:
      return std::make_unique<ZstdSource>(std::move(inner), std::move(name));
    case Compression::kAuto:
      return std::make_unique<AutoSource>(std::move(inner), std::move(name));
    case Compression::kNone:
      break;
  }
  return inner;
}

}  // namespace lode::image
