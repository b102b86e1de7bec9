// OCI image layout directories: oci-layout, index.json, blobs/sha256/<hex>.
// index.json may point at a manifest or at a nested index (multi-platform);
// every blob read is checked against the digest and size that named it.
#include <nlohmann/json.hpp>

#include "image/image_internal.h"

namespace lode::image {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxJsonBlob = 16 << 20;  // manifests and configs are small

class Layout {
 public:
  explicit Layout(std::string dir) : dir_(std::move(dir)) {}

  std::string BlobPath(const Digest& d) const { return dir_ + "/blobs/sha256/" + d.Hex(); }

  Result<std::unique_ptr<ByteSource>> OpenRawBlob(const Descriptor& d,
                                                  const std::string& name) const {
    Result<UniqueFd> fd = OpenForRead(BlobPath(d.digest));
    if (!fd.ok()) return fd.status().WithContext("blob " + d.digest.ToString() + " of " + name);
    return NewFileSource(std::move(*fd), name);
  }

  Result<std::string> ReadJsonBlob(const Descriptor& d, const std::string& name) const {
    if (d.size > kMaxJsonBlob) return Status::Corruption(name + ": descriptor size too large");
    LODE_ASSIGN_OR_RETURN(auto raw, OpenRawBlob(d, name));
    HashingSource src(std::move(raw), name, d.digest, d.size);
    std::string out(d.size, '\0');
    size_t pos = 0;
    while (true) {
      auto span = std::span(reinterpret_cast<uint8_t*>(out.data()) + pos, out.size() - pos);
      if (span.empty()) {
        uint8_t extra;
        LODE_ASSIGN_OR_RETURN(size_t n, src.Read(std::span(&extra, 1)));
        if (n == 0) break;
        return Status::Corruption(name + ": larger than its descriptor's size");
      }
      LODE_ASSIGN_OR_RETURN(size_t n, src.Read(span));
      if (n == 0) break;  // HashingSource has reported a short blob already
      pos += n;
    }
    return out;
  }

 private:
  std::string dir_;
};

class OciLayoutSource : public ImageSource {
 public:
  OciLayoutSource(std::string dir, Descriptor chosen)
      : dir_(std::move(dir)), layout_(dir_), chosen_(std::move(chosen)) {}

  std::string Describe() const override { return "oci:" + dir_; }
  std::optional<Digest> manifest_digest() const override { return chosen_.digest; }

  Result<Image> Open() override {
    std::string mname = "manifest " + chosen_.digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string text, layout_.ReadJsonBlob(chosen_, mname));
    LODE_ASSIGN_OR_RETURN(ImageManifest manifest, ParseImageManifest(text, mname));
    std::string cname = "config " + manifest.config.digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string config, layout_.ReadJsonBlob(manifest.config, cname));
    Layout layout = layout_;
    return AssembleImage(manifest, config, [&](size_t index, const std::string& name) {
      return [layout, d = manifest.layers[index], name] { return layout.OpenRawBlob(d, name); };
    });
  }

 private:
  std::string dir_;
  Layout layout_;
  Descriptor chosen_;
};

}  // namespace

Result<std::unique_ptr<ImageSource>> ResolveOciLayout(const std::string& dir,
                                                      const OpenOptions& options) {
  Layout layout(dir);
  Result<std::string> marker = ReadFileToString(dir + "/oci-layout");
  if (!marker.ok())
    return Status::InvalidArgument(dir + " is not an OCI image layout (no oci-layout file)");
  LODE_ASSIGN_OR_RETURN(std::string index_text, ReadFileToString(dir + "/index.json"));
  std::string name = dir + "/index.json";
  Result<Descriptor> chosen = ParseJson<Descriptor>(index_text, name, [&](const json& index) {
    return SelectFromIndex(index, name, options, /*top_level=*/true);
  });
  // Nested indexes (multi-platform images) are followed to a manifest.
  for (int depth = 0; chosen.ok(); ++depth) {
    if (!IsIndexMediaType(chosen->media_type)) break;
    if (depth > 4) return Status::Corruption(name + ": indexes nested too deeply");
    std::string iname = "index " + chosen->digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string text, layout.ReadJsonBlob(*chosen, iname));
    chosen = ParseJson<Descriptor>(text, iname, [&](const json& index) {
      return SelectFromIndex(index, iname, options, /*top_level=*/false);
    });
  }
  if (!chosen.ok()) return chosen.status();
  return std::unique_ptr<ImageSource>(std::make_unique<OciLayoutSource>(dir, *chosen));
}

}  // namespace lode::image
