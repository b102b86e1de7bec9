// `docker save` tarballs: manifest.json names the config and the layer files
// inside the archive. Old archives store layers as <id>/layer.tar, verified
// through the config's diff_ids; newer ones use blobs/sha256/<hex>, verified
// by name as well. Each layer is streamed straight out of the archive.
#include <nlohmann/json.hpp>

#include "image/image_internal.h"
#include "image/tar_reader.h"

namespace lode::image {
namespace {

using nlohmann::json;

// The data of one member of a tar archive, as a stream.
class TarMemberSource : public ByteSource {
 public:
  static Result<std::unique_ptr<ByteSource>> Open(const std::string& archive_path,
                                                  const std::string& member) {
    auto src = std::unique_ptr<TarMemberSource>(new TarMemberSource());
    LODE_ASSIGN_OR_RETURN(UniqueFd fd, OpenForRead(archive_path));
    src->file_ = NewFileSource(std::move(fd), archive_path);
    LODE_ASSIGN_OR_RETURN(src->reader_, TarReader::Open(src->file_.get(), archive_path));
    TarEntry entry;
    while (true) {
      LODE_ASSIGN_OR_RETURN(bool more, src->reader_->Next(&entry));
      if (!more) return Status::NotFound(member + " in " + archive_path);
      if (NormalMember(entry.path) == member && entry.type == EntryType::kFile) break;
    }
    return std::unique_ptr<ByteSource>(std::move(src));
  }

  static std::string NormalMember(std::string path) {
    while (path.rfind("./", 0) == 0) path.erase(0, 2);
    return path;
  }

  Result<size_t> Read(std::span<uint8_t> out) override {
    while (pending_.empty()) {
      if (done_) return size_t{0};
      uint64_t offset = 0;
      LODE_ASSIGN_OR_RETURN(bool more, reader_->ReadBlock(&offset, &pending_));
      if (!more)
        done_ = true;
      else if (offset != position_)
        return Status::Corruption("sparse member in docker archive");
    }
    size_t n = std::min(out.size(), pending_.size());
    std::copy_n(pending_.begin(), n, out.begin());
    pending_ = pending_.subspan(n);
    position_ += n;
    return n;
  }

 private:
  TarMemberSource() = default;
  std::unique_ptr<ByteSource> file_;
  std::unique_ptr<TarReader> reader_;
  std::span<const uint8_t> pending_;
  uint64_t position_ = 0;
  bool done_ = false;
};

// "blobs/sha256/<hex>" or "<hex>.json" names carry their digest.
std::optional<Digest> DigestFromMemberName(const std::string& member) {
  std::string base = member.substr(member.find_last_of('/') + 1);
  if (base.size() > 5 && base.ends_with(".json")) base.resize(base.size() - 5);
  if (member.rfind("blobs/sha256/", 0) != 0 && !member.ends_with(".json")) return std::nullopt;
  Result<Digest> d = ParseDigest("sha256:" + base);
  if (!d.ok()) return std::nullopt;
  return *d;
}

Result<std::string> ReadMember(const std::string& archive, const std::string& member) {
  LODE_ASSIGN_OR_RETURN(auto src, TarMemberSource::Open(archive, member));
  HashingSource hashed(std::move(src), member, DigestFromMemberName(member), std::nullopt);
  std::string out;
  uint8_t buf[65536];
  while (true) {
    LODE_ASSIGN_OR_RETURN(size_t n, hashed.Read(buf));
    if (n == 0) break;
    out.append(reinterpret_cast<char*>(buf), n);
    if (out.size() > (16u << 20)) return Status::Corruption(member + ": too large");
  }
  return out;
}

}  // namespace

Result<Image> OpenDockerArchive(const std::string& path) {
  Result<std::string> manifest_text = ReadMember(path, "manifest.json");
  if (!manifest_text.ok()) {
    if (manifest_text.status().code() == StatusCode::kNotFound) {
      return Status::InvalidArgument(path +
                                     " is neither an OCI layout nor a docker-archive tarball");
    }
    return manifest_text.status();
  }
  std::string mname = path + ": manifest.json";
  struct Entry {
    std::string config;
    std::vector<std::string> layers;
  };
  LODE_ASSIGN_OR_RETURN(
      Entry entry, ParseJson<Entry>(*manifest_text, mname, [&](const json& doc) -> Result<Entry> {
        if (!doc.is_array() || doc.size() != 1) {
          return Status::InvalidArgument(mname + ": expected exactly one image");
        }
        Entry e;
        e.config = TarMemberSource::NormalMember(doc[0].at("Config").get<std::string>());
        for (const json& l : doc[0].at("Layers")) {
          e.layers.push_back(TarMemberSource::NormalMember(l.get<std::string>()));
        }
        return e;
      }));
  LODE_ASSIGN_OR_RETURN(std::string config_text, ReadMember(path, entry.config));
  LODE_ASSIGN_OR_RETURN(ParsedConfig config, ParseImageConfig(config_text, entry.config));
  Image img;
  img.run_config = config.run;
  img.config_digest = Digest{Sha256::Of(config_text)};
  for (const std::string& member : entry.layers) {
    Layer layer;
    layer.name = "layer " + std::to_string(img.layers.size()) + " (" + member + ")";
    layer.compression = Compression::kAuto;
    layer.digest = DigestFromMemberName(member);
    layer.open_blob = [path, member]() { return TarMemberSource::Open(path, member); };
    img.layers.push_back(std::move(layer));
  }
  if (img.layers.empty()) return Status::Corruption(mname + ": no layers");
  LODE_RETURN_IF_ERROR(AttachDiffIds(config.diff_ids, entry.config, &img.layers));
  return img;
}

}  // namespace lode::image
