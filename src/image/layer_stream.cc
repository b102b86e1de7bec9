#include "image/layer_stream.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace lode::image {
namespace {

constexpr size_t kBlockBytes = 1 << 20;
constexpr size_t kQueueBlocks = 16;  // per queue: bounds memory to ~32 MiB

// A decoded block; its buffer returns to the pool when the reader is done.
struct Buffer {
  std::unique_ptr<uint8_t[]> bytes{new uint8_t[kBlockBytes]};
  size_t size = 0;
  const uint8_t* data() const { return bytes.get(); }
};
using Block = std::shared_ptr<const Buffer>;

// Recycles block buffers: fresh 1 MiB allocations cost page faults and zeroing.
class BufferPool {
 public:
  std::shared_ptr<Buffer> Get() {
    std::unique_ptr<Buffer> b;
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        b = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!b) b = std::make_unique<Buffer>();
    return std::shared_ptr<Buffer>(b.release(), [this](Buffer* done) {
      std::lock_guard lock(mu_);
      free_.emplace_back(done);
    });
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Buffer>> free_;
};

// One message of a queue: a block of data, or the end with a final status.
struct Message {
  Block data;
  bool end = false;
  Status status;
};

// A bounded single-producer single-consumer queue that can be cancelled.
class Queue {
 public:
  // Returns false when cancelled.
  bool Push(Message m) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return cancelled_ || items_.size() < kQueueBlocks; });
    if (cancelled_) return false;
    items_.push_back(std::move(m));
    not_empty_.notify_one();
    return true;
  }
  Message Pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return cancelled_ || !items_.empty(); });
    if (items_.empty()) return {.end = true, .status = Status::Unavailable("stream cancelled")};
    Message m = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return m;
  }
  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Message> items_;
  bool cancelled_ = false;
};

}  // namespace

struct LayerStream::Shared {
  BufferPool pool;  // first: outlives every block held below
  std::string name;
  std::optional<Digest> expected_diff;
  std::unique_ptr<ByteSource> decoded;  // blob -> digest check -> decompressor
  HashingSource* blob = nullptr;        // inside `decoded`; producer thread only until joined
  Queue to_reader;
  std::thread producer;
  bool blob_mismatched = false;  // written by the producer before its last message
  // Reader side.
  Sha256 diff_hasher;
  uint64_t diff_size = 0;
  Digest diff;
  Block current;
  size_t offset = 0;
  bool ended = false;
  Status end_status;

  void Produce() {
    Status status;
    while (true) {
      std::shared_ptr<Buffer> buf = pool.Get();
      Result<size_t> n = decoded->Read(std::span(buf->bytes.get(), kBlockBytes));
      if (!n.ok()) {
        status = n.status();
        // A tampered blob rarely decompresses: read its rest to name the cause.
        Status drained = Drain(*blob);
        if (blob->mismatched()) status = drained;
        break;
      }
      if (*n == 0) break;
      buf->size = *n;
      if (!to_reader.Push({.data = std::move(buf)})) return;
    }
    blob_mismatched = blob->mismatched();
    to_reader.Push({.end = true, .status = status});
  }

  // At the end of the stream: the uncompressed digest against the config's.
  Status FinishDiff() {
    diff.bytes = diff_hasher.Finish();
    if (!expected_diff || diff == *expected_diff) return Status::Ok();
    return Status::Corruption(name + ": uncompressed digest mismatch: the config says " +
                              expected_diff->ToString() + ", content is " + diff.ToString() + " (" +
                              std::to_string(diff_size) + " bytes)");
  }
};

LayerStream::LayerStream(std::unique_ptr<Shared> shared) : shared_(std::move(shared)) {}

Result<std::unique_ptr<LayerStream>> LayerStream::Open(const Layer& layer) {
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> raw, layer.open_blob());
  auto shared = std::make_unique<Shared>();
  shared->name = layer.name;
  shared->expected_diff = layer.diff_id;
  auto blob = std::make_unique<HashingSource>(std::move(raw), layer.name, layer.digest, layer.size);
  shared->blob = blob.get();
  shared->decoded = NewDecompressor(std::move(blob), layer.compression, layer.name);
  Shared* s = shared.get();
  s->producer = std::thread([s] { s->Produce(); });
  return std::unique_ptr<LayerStream>(new LayerStream(std::move(shared)));
}

LayerStream::~LayerStream() {
  shared_->to_reader.Cancel();
  if (shared_->producer.joinable()) shared_->producer.join();
}

Result<size_t> LayerStream::Read(std::span<uint8_t> out) {
  Shared& s = *shared_;
  while (!s.current || s.offset == s.current->size) {
    if (s.ended) return s.end_status.ok() ? Result<size_t>(size_t{0}) : Result<size_t>(s.end_status);
    Message m = s.to_reader.Pop();
    if (m.end) {
      s.ended = true;
      s.producer.join();
      s.end_status = m.status.ok() ? s.FinishDiff() : m.status;
      continue;
    }
    s.current = std::move(m.data);
    s.offset = 0;
    s.diff_hasher.Update(std::span(s.current->data(), s.current->size));
    s.diff_size += s.current->size;
  }
  size_t n = std::min(out.size(), s.current->size - s.offset);
  std::copy_n(s.current->data() + s.offset, n, out.data());
  s.offset += n;
  bytes_read_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

const Digest& LayerStream::diff_id() const { return shared_->diff; }
bool LayerStream::blob_mismatched() const { return shared_->blob_mismatched; }

}  // namespace lode::image
