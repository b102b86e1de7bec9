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

// A decoded block; its buffer returns to the pool when the reader and the
// hasher are both done with it.
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
  Queue to_reader, to_hasher;
  std::thread producer, hasher;
  bool blob_mismatched = false;  // written by the producer before its last message
  std::atomic<uint64_t> blob_bytes{0};
  Digest diff;         // written by the hasher before it ends
  Status diff_status;  // likewise
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
      blob_bytes.store(blob->size(), std::memory_order_relaxed);
      buf->size = *n;
      Block block = std::move(buf);
      if (!to_hasher.Push({.data = block}) || !to_reader.Push({.data = block})) return;
    }
    blob_mismatched = blob->mismatched();
    to_hasher.Push({.end = true, .status = status});
    to_reader.Push({.end = true, .status = status});
  }

  void Hash() {
    Sha256 hasher;
    uint64_t size = 0;
    while (true) {
      Message m = to_hasher.Pop();
      if (!m.end) {
        hasher.Update(std::span(m.data->data(), m.data->size));
        size += m.data->size;
        continue;
      }
      if (!m.status.ok()) return;  // the reader gets the producer's error
      diff.bytes = hasher.Finish();
      if (expected_diff && !(diff == *expected_diff)) {
        diff_status = Status::Corruption(name + ": uncompressed digest mismatch: the config says " +
                                         expected_diff->ToString() + ", content is " +
                                         diff.ToString() + " (" + std::to_string(size) + " bytes)");
      }
      return;
    }
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
  s->hasher = std::thread([s] { s->Hash(); });
  return std::unique_ptr<LayerStream>(new LayerStream(std::move(shared)));
}

LayerStream::~LayerStream() {
  shared_->to_reader.Cancel();
  shared_->to_hasher.Cancel();
  if (shared_->producer.joinable()) shared_->producer.join();
  if (shared_->hasher.joinable()) shared_->hasher.join();
}

Result<size_t> LayerStream::Read(std::span<uint8_t> out) {
  LODE_ASSIGN_OR_RETURN(std::span<const uint8_t> view, NextView(out.size()));
  std::copy(view.begin(), view.end(), out.begin());
  return view.size();
}

Result<std::span<const uint8_t>> LayerStream::ReadView(std::vector<uint8_t>&) {
  return NextView(kBlockBytes);
}

Result<std::span<const uint8_t>> LayerStream::NextView(size_t max) {
  Shared& s = *shared_;
  while (!s.current || s.offset == s.current->size) {
    if (s.ended) {
      if (!s.end_status.ok()) return s.end_status;
      return std::span<const uint8_t>();
    }
    Message m = s.to_reader.Pop();
    if (m.end) {
      s.ended = true;
      s.producer.join();
      s.hasher.join();
      s.end_status = m.status.ok() ? s.diff_status : m.status;
      continue;
    }
    s.current = std::move(m.data);
    s.offset = 0;
  }
  size_t n = std::min(max, s.current->size - s.offset);
  std::span<const uint8_t> view(s.current->data() + s.offset, n);
  s.offset += n;
  bytes_read_.fetch_add(n, std::memory_order_relaxed);
  return view;
}

const Digest& LayerStream::diff_id() const { return shared_->diff; }
bool LayerStream::blob_mismatched() const { return shared_->blob_mismatched; }

uint64_t LayerStream::blob_bytes_read() const {
  return shared_->blob_bytes.load(std::memory_order_relaxed);
}

}  // namespace lode::image
