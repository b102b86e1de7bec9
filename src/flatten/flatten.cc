#include "flatten/flatten.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "flatten/block_region.h"
#include "flatten/ext4/format.h"
#include "flatten/ext4/writer.h"
#include "image/tar_reader.h"

namespace lode::flatten {
namespace {

using ext4::kBlockSize;

// Data of hidden files that a later hardlink in the same layer may still
// need. An unnamed temporary file, emptied after every layer.
class SpillFile {
 public:
  explicit SpillFile(std::string dir)
      : dir_(std::move(dir)), region_([this](uint64_t off, std::span<const uint8_t> b) {
          return PWriteAll(fd_.get(), b, off, "spill file");
        }) {}

  Status Append(image::TarReader& reader, Inode* inode) {
    if (!fd_.valid()) LODE_RETURN_IF_ERROR(Open());
    inode->spilled = true;
    LODE_RETURN_IF_ERROR(region_.AppendFile(reader, &inode->fs.extents));
    return region_.Flush();
  }

  // Moves a spilled inode's blocks into the data region.
  Status CopyInto(BlockRegion& data, Inode* inode) {
    std::vector<ext4::DataExtent> spilled = std::move(inode->fs.extents);
    inode->fs.extents.clear();
    std::vector<uint8_t> block(kBlockSize);
    for (const ext4::DataExtent& e : spilled) {
      for (uint32_t i = 0; i < e.length; ++i) {
        LODE_RETURN_IF_ERROR(
            PReadAll(fd_.get(), block, (e.data_block + i) * kBlockSize, "spill file"));
        LODE_RETURN_IF_ERROR(data.Put(uint64_t{e.logical} + i, block, &inode->fs.extents));
      }
    }
    inode->stored = true;
    return Status::Ok();
  }

  Status Reset() {
    if (fd_.valid() && ::ftruncate(fd_.get(), 0) != 0)
      return Status::FromErrno(errno, "truncate spill file");
    return region_.Reset();
  }

 private:
  Status Open() {
    std::string dir = dir_;
    if (dir.empty()) dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno(errno, "create spill file in " + dir);
    fd_ = UniqueFd(fd);
    return Status::Ok();
  }

  std::string dir_;
  UniqueFd fd_;
  BlockRegion region_;
};

Status ValidateOptions(const FlattenOptions& o) {
  uint32_t a = o.layer_alignment;
  if (a < kBlockSize || (a & (a - 1)) != 0) {
    return Status::InvalidArgument("layer alignment must be a power of two of at least 4096");
  }
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
        data_([sink](uint64_t off, std::span<const uint8_t> b) { return sink->WriteData(off, b); }),
        spill_(options.spill_dir) {}

  Result<FlattenResult> Run() {
    LODE_RETURN_IF_ERROR(ValidateOptions(options_));
    int n = static_cast<int>(image_.layers.size());
    result_.diff_ids.resize(static_cast<size_t>(n));
    for (int top = 0; top < n; ++top) {
      size_t index = static_cast<size_t>(n - 1 - top);
      LODE_RETURN_IF_ERROR(ApplyLayer(image_.layers[index], top));
    }
    LODE_RETURN_IF_ERROR(data_.Flush());
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
    result_.uuid = w.uuid;
    return result_;
  }

 private:
  Status ApplyLayer(const image::Layer& layer, int top) {
    LODE_RETURN_IF_ERROR(data_.AlignTo(options_.layer_alignment / kBlockSize));
    LODE_ASSIGN_OR_RETURN(image::LayerStream stream, image::OpenLayer(layer));
    Result<std::unique_ptr<image::TarReader>> opened =
        image::TarReader::Open(stream.tar.get(), layer.name);
    if (!opened.ok()) return PreferDigestError(stream, opened.status());
    image::TarReader* reader = opened->get();
    image::TarEntry entry;
    uint64_t base_bytes = result_.tar_bytes;
    while (true) {
      Result<bool> more = reader->Next(&entry);
      if (!more.ok()) return PreferDigestError(stream, more.status());
      if (!*more) break;
      Status s = ApplyEntry(*reader, entry, top);
      if (!s.ok()) return PreferDigestError(stream, s.WithContext(layer.name + ": " + entry.path));
      result_.tar_bytes = base_bytes + stream.diff->size();
      ReportProgress(top, false);
    }
    LODE_RETURN_IF_ERROR(image::Drain(*stream.tar));
    result_.tar_bytes = base_bytes + stream.diff->size();
    result_.diff_ids[image_.layers.size() - 1 - static_cast<size_t>(top)] = stream.diff->digest();
    ReportProgress(top, true);
    return spill_.Reset();
  }

  // A tampered blob usually breaks decompression or tar parsing before its
  // digest can be checked; reading the rest of it names the real cause.
  static Status PreferDigestError(image::LayerStream& stream, Status error) {
    Status drained = image::Drain(*stream.blob);
    return stream.blob->mismatched() ? drained : error;
  }

  Status ApplyEntry(image::TarReader& reader, const image::TarEntry& entry, int top) {
    LODE_ASSIGN_OR_RETURN(LayerTree::Decision d, tree_.Apply(entry, top));
    if (d.materialize != nullptr) LODE_RETURN_IF_ERROR(spill_.CopyInto(data_, d.materialize));
    switch (d.action) {
      case LayerTree::DataAction::kStore:
        LODE_RETURN_IF_ERROR(data_.AppendFile(reader, &d.inode->fs.extents));
        d.inode->stored = true;
        break;
      case LayerTree::DataAction::kSpill:
        LODE_RETURN_IF_ERROR(spill_.Append(reader, d.inode));
        break;
      case LayerTree::DataAction::kNone:
        break;
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
  SpillFile spill_;
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
