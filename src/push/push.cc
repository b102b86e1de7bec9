#include "push/push.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "catalog/chains.h"
#include "chunk/convergent.h"
#include "manifest/manifest.h"
#include "push/chunk_uploader.h"
#include "push/target.h"

namespace lode::push {
namespace {

// The run config, and the layers' diff_ids and stored digests for chain
// lookups (catalog/chains.h).
std::string ImageConfigJson(const image::Image& image) {
  nlohmann::json config = nlohmann::json::parse(image::RunConfigToJson(image.run_config));
  std::vector<std::string> diff_ids = image::DiffIds(image);
  if (!diff_ids.empty()) config["diff_ids"] = diff_ids;
  std::vector<std::string> digests = image::LayerDigests(image);
  if (!digests.empty()) config["layer_digests"] = digests;
  return config.dump();
}

// Cuts the flattener's output into chunks as it arrives. The data region is
// written first, at offsets relative to its start; it starts chunk-aligned
// (the layer alignment is the chunk size), so its chunks can be sealed
// before the metadata size is known. Chunk numbers are fixed at the end.
class ChunkingSink : public flatten::ImageSink {
 public:
  ChunkingSink(ChunkUploader& uploader, uint32_t chunk_size)
      : uploader_(uploader), chunk_size_(chunk_size) {}

  Status WriteData(uint64_t offset, std::span<const uint8_t> bytes) override {
    return Append(data_, offset, bytes);
  }
  Status BeginMetadata(uint64_t data_offset, uint64_t total_bytes) override {
    LODE_RETURN_IF_ERROR(Flush(data_));
    if (data_offset % chunk_size_ != 0)
      return Status::InvalidArgument("data region is not chunk-aligned");
    data_first_chunk_ = data_offset / chunk_size_;
    total_bytes_ = total_bytes;
    return Status::Ok();
  }
  Status WriteMetadata(uint64_t offset, std::span<const uint8_t> bytes) override {
    return Append(meta_, offset, bytes);
  }
  Status Finish() override { return Flush(meta_); }

  // After the uploader has finished: the chunk table of the whole image.
  std::vector<manifest::ChunkEntry> Table() const {
    uint64_t count = (total_bytes_ + chunk_size_ - 1) / chunk_size_;
    std::vector<manifest::ChunkEntry> table(count);
    for (auto& e : table) e.flags = manifest::kHole;
    std::lock_guard lock(mu_);
    for (const auto& [i, e] : meta_.entries) table[i] = e;
    for (const auto& [i, e] : data_.entries) table[data_first_chunk_ + i] = e;
    return table;
  }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct Region {
    std::vector<uint8_t> chunk;  // the chunk being filled
    uint64_t index = UINT64_MAX;
    std::map<uint64_t, manifest::ChunkEntry> entries;  // filled by uploader threads
  };

  Status Append(Region& r, uint64_t offset, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
      uint64_t index = offset / chunk_size_;
      if (index != r.index) {
        LODE_RETURN_IF_ERROR(Flush(r));
        r.chunk.assign(chunk_size_, 0);
        r.index = index;
      }
      size_t within = offset % chunk_size_;
      size_t n = std::min<size_t>(bytes.size(), chunk_size_ - within);
      std::copy_n(bytes.begin(), n, r.chunk.begin() + static_cast<ptrdiff_t>(within));
      bytes = bytes.subspan(n);
      offset += n;
    }
    return Status::Ok();
  }

  Status Flush(Region& r) {
    if (r.index == UINT64_MAX) return Status::Ok();
    uint64_t index = r.index;
    r.index = UINT64_MAX;
    if (chunk::IsZero(r.chunk)) return Status::Ok();  // a hole
    return uploader_.Submit(std::move(r.chunk), [this, &r, index](const manifest::ChunkEntry& e) {
      std::lock_guard lock(mu_);
      r.entries[index] = e;
    });
  }

  ChunkUploader& uploader_;
  uint32_t chunk_size_;
  mutable std::mutex mu_;  // guards the entries maps
  Region data_, meta_;
  uint64_t data_first_chunk_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace

Result<PushResult> Push(const image::Image& image, const PushOptions& options,
                        keys::KeyService& keys, store::ObjectStore& store,
                        const flatten::ProgressFn& progress) {
  uint32_t cs = options.chunk_size;
  if (cs < 4096 || (cs & (cs - 1)) != 0)
    return Status::InvalidArgument("chunk size must be a power of two >= 4096");
  LODE_ASSIGN_OR_RETURN(PushTarget target, PrepareTarget(options, options.root, keys, store));
  ChunkUploader uploader(store, target.root.id, target.salt, options.compress, target.threads);
  ChunkingSink sink(uploader, cs);
  flatten::FlattenOptions fopts = options.flatten;
  fopts.layer_alignment = std::max(fopts.layer_alignment, cs);
  Result<flatten::FlattenResult> flat = flatten::Flatten(image, fopts, &sink, progress);
  Status uploaded = uploader.Finish();
  if (!flat.ok()) return flat.status();
  LODE_RETURN_IF_ERROR(uploaded);

  manifest::Manifest m;
  m.fs_size = sink.total_bytes();
  m.chunk_size = cs;
  if (image.config_digest) m.config_digest = image.config_digest->bytes;
  m.salt_id = target.salt_id.ToString();
  m.root_id = target.root.id;
  m.image_config = ImageConfigJson(image);
  m.chunks = sink.Table();
  LODE_ASSIGN_OR_RETURN(PushResult result, PublishManifest(m, target, uploader.stats(), store));
  std::vector<std::string> chain = catalog::ChainIds(image::DiffIds(image));
  if (!chain.empty()) result.chain_id = chain.back();
  return result;
}

}  // namespace lode::push
