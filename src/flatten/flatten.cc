#include "flatten/flatten.h"

#include <algorithm>

#include "flatten/block_region.h"
#include "flatten/ext4/format.h"
#include "flatten/ext4/writer.h"
#include "flatten/limits.h"
#include "image/layer_stream.h"
#include "image/tar_reader.h"
#include "util/size.h"
#include "util/text.h"

namespace lode::flatten {
namespace {

using ext4::kBlockSize;

Status ValidateOptions(const FlattenOptions& o) {
  uint32_t a = o.layer_alignment;
  if (a < kBlockSize || (a & (a - 1)) != 0) {
    return Status::InvalidArgument("layer alignment must be a power of two of at least 4096");
  }
  if (o.max_tar_bytes == 0) return Status::InvalidArgument("the image size limit must be positive");
  return Status::Ok();
}

// UUID and directory hash seed: functions of the uncompressed layers only.
void DeriveIdentity(const std::vector<image::Digest>& diff_ids, ext4::WriterOptions* w) {
  Sha256 uuid, seed;
  uuid.Update(std::string_view("lode ext4 uuid v1"));
  seed.Update(std::string_view("lode ext4 hash seed v1"));
  for (const image::Digest& d : diff_ids) {
    uuid.Update(d.bytes);
    seed.Update(d.bytes);
  }
  Sha256Digest u = uuid.Finish(), s = seed.Finish();
  std::copy_n(u.begin(), 16, w->uuid.begin());
  w->uuid[6] = static_cast<uint8_t>((w->uuid[6] & 0x0f) | 0x50);  // name-based UUID
  w->uuid[8] = static_cast<uint8_t>((w->uuid[8] & 0x3f) | 0x80);
  for (int i = 0; i < 4; ++i) w->hash_seed[i] = ext4::Get32(s.data() + 4 * i);
}

class Flattener {
 public:
  Flattener(const image::Image& image, const FlattenOptions& options, ImageSink* sink,
            const ProgressFn& progress)
      : image_(image),
        options_(options),
        sink_(sink),
        progress_(progress),
        data_(
            [sink](uint64_t off, std::span<const uint8_t> b) { return sink->WriteData(off, b); }) {}

  Result<FlattenResult> Run() {
    LODE_RETURN_IF_ERROR(ValidateOptions(options_));
    if (image_.layers.size() > kMaxLayers) {
      return Status::InvalidArgument("the image has " + std::to_string(image_.layers.size()) +
                                     " layers (the limit is " + std::to_string(kMaxLayers) + ")");
    }
    int n = static_cast<int>(image_.layers.size());
    result_.diff_ids.resize(static_cast<size_t>(n));
    for (int top = 0; top < n; ++top) {
      size_t index = static_cast<size_t>(n - 1 - top);
      LODE_RETURN_IF_ERROR(ApplyLayer(image_.layers[index], top));
    }
    LODE_ASSIGN_OR_RETURN(ext4::FsTree fs, tree_.Finish());
    ext4::WriterOptions w;
    w.data_blocks = data_.cursor();
    w.data_alignment = options_.layer_alignment;
    w.headroom_bytes = options_.headroom_bytes;
    w.extra_inodes = options_.extra_inodes;
    if (w.extra_inodes == 0) {
      w.extra_inodes =
          static_cast<uint32_t>(std::max<uint64_t>(1024, options_.headroom_bytes / (16 * 1024)));
    }
    DeriveIdentity(result_.diff_ids, &w);
    LODE_ASSIGN_OR_RETURN(ext4::WriterStats stats, ext4::WriteMetadata(fs, w, sink_));
    LODE_RETURN_IF_ERROR(sink_->Finish());
    result_.image_bytes = stats.total_bytes;
    result_.metadata_bytes = stats.metadata_bytes;
    result_.data_bytes = w.data_blocks * kBlockSize;
    result_.inodes = stats.inodes_used;
    result_.tree = tree_.stats();
    return result_;
  }

 private:
  Status ApplyLayer(const image::Layer& layer, int top) {
    data_.AlignTo(options_.layer_alignment / kBlockSize);
    LODE_ASSIGN_OR_RETURN(std::unique_ptr<image::LayerStream> opened_stream,
                          image::LayerStream::Open(layer));
    image::LayerStream& stream = *opened_stream;
    Result<std::unique_ptr<image::TarReader>> opened = image::TarReader::Open(&stream, layer.name);
    if (!opened.ok()) return PreferDigestError(stream, opened.status());
    image::TarReader* reader = opened->get();
    image::TarEntry entry;
    uint64_t base_bytes = result_.tar_bytes;
    while (true) {
      Result<bool> more = reader->Next(&entry);
      if (!more.ok()) return PreferDigestError(stream, more.status());
      if (!*more) break;
      // A file over the limit is refused before its data is read; the sum
      // is checked after each file.
      if (entry.size > options_.max_tar_bytes) return TooLarge(layer, stream, entry);
      Status s = ApplyEntry(*reader, entry, top);
      if (!s.ok()) {
        return PreferDigestError(stream, s.WithContext(layer.name + ": " + Excerpt(entry.path)));
      }
      result_.tar_bytes = base_bytes + stream.bytes_read();
      if (result_.tar_bytes > options_.max_tar_bytes) return TooLarge(layer, stream, entry);
      ReportProgress(top, false);
    }
    LODE_RETURN_IF_ERROR(image::Drain(stream));
    result_.tar_bytes = base_bytes + stream.bytes_read();
    result_.diff_ids[image_.layers.size() - 1 - static_cast<size_t>(top)] = stream.diff_id();
    ReportProgress(top, true);
    return Reread(layer);
  }

  // Second pass over a layer for hidden entries that hardlinks of the same
  // layer turned out to need (see LayerTree). Their data goes in entry order.
  Status Reread(const image::Layer& layer) {
    if (rereads_.empty()) return Status::Ok();
    std::sort(rereads_.begin(), rereads_.end(),
              [](const Inode* a, const Inode* b) { return a->layer_entry < b->layer_entry; });
    LODE_ASSIGN_OR_RETURN(std::unique_ptr<image::LayerStream> stream,
                          image::LayerStream::Open(layer));
    LODE_ASSIGN_OR_RETURN(auto reader, image::TarReader::Open(stream.get(), layer.name));
    image::TarEntry entry;
    size_t next = 0;
    for (uint64_t position = 0; next < rereads_.size(); ++position) {
      LODE_ASSIGN_OR_RETURN(bool more, reader->Next(&entry));
      if (!more) return Status::Corruption(layer.name + ": changed between two reads");
      if (position != rereads_[next]->layer_entry) continue;
      LODE_RETURN_IF_ERROR(data_.AppendFile(*reader, &rereads_[next]->fs.extents));
      ++next;
    }
    rereads_.clear();
    return Status::Ok();
  }

  // A tampered blob can break tar parsing before its digest is checked;
  // reading the rest of it names the real cause.
  static Status PreferDigestError(image::LayerStream& stream, Status error) {
    Status drained = image::Drain(stream);
    return stream.blob_mismatched() ? drained : error;
  }

  // Over the size limit (at `entry`, or with its data to come): says how far
  // the layer expanded, which tells a decompression bomb (thousands of times
  // its stored size) from a big image.
  Status TooLarge(const image::Layer& layer, const image::LayerStream& stream,
                  const image::TarEntry& entry) const {
    uint64_t stored = std::max<uint64_t>(stream.blob_bytes_read(), 1);
    return Status::InvalidArgument(
        layer.name + ": " + Excerpt(entry.path) + " (" + FormatSize(entry.size) +
        "): the layers uncompress to more than " + FormatSize(options_.max_tar_bytes) +
        " (--max-size); this layer " + FormatSize(stream.bytes_read()) + " so far from " +
        FormatSize(stored) + " stored (" + std::to_string(stream.bytes_read() / stored) + "x)");
  }

  Status ApplyEntry(image::TarReader& reader, const image::TarEntry& entry, int top) {
    LODE_ASSIGN_OR_RETURN(LayerTree::Decision d, tree_.Apply(entry, top));
    if (d.reread != nullptr) rereads_.push_back(d.reread);
    if (d.action == LayerTree::DataAction::kStore) {
      LODE_RETURN_IF_ERROR(data_.AppendFile(reader, &d.inode->fs.extents));
    }
    return Status::Ok();
  }

  void ReportProgress(int top, bool force) {
    if (!progress_) return;
    if (!force && result_.tar_bytes < last_report_ + (16u << 20)) return;
    last_report_ = result_.tar_bytes;
    FlattenProgress p;
    p.layer = top + 1;
    p.layers = static_cast<int>(image_.layers.size());
    p.tar_bytes = result_.tar_bytes;
    p.entries = tree_.stats().entries;
    progress_(p);
  }

  const image::Image& image_;
  const FlattenOptions& options_;
  ImageSink* sink_;
  const ProgressFn& progress_;
  LayerTree tree_;
  BlockRegion data_;
  std::vector<Inode*> rereads_;  // of the current layer
  FlattenResult result_;
  uint64_t last_report_ = 0;
};

}  // namespace

Result<FlattenResult> Flatten(const image::Image& image, const FlattenOptions& options,
                              ImageSink* sink, const ProgressFn& progress) {
  Flattener f(image, options, sink, progress);
  return f.Run();
}

}  // namespace lode::flatten
