#include "testing/layer_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/sha.h>
#include <zlib.h>
#include <zstd.h>

#include <clocale>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace lode::testing {
namespace {

void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("layer builder: " + what);
}

la_ssize_t AppendToString(struct archive*, void* out, const void* buf, size_t len) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

struct archive* NewTarWriter(std::string* out, TarFormat format = TarFormat::kPax) {
  // pax headers carry names as UTF-8; libarchive converts from the locale.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  struct archive* a = archive_write_new();
  if (format == TarFormat::kGnu) {
    archive_write_set_format_gnutar(a);
  } else {
    archive_write_set_format_pax(a);
  }
  archive_write_set_bytes_per_block(a, 512);
  Require(archive_write_open(a, out, nullptr, AppendToString, nullptr) == ARCHIVE_OK,
          "open writer");
  return a;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  Require(f.good(), "write " + path);
}

}  // namespace

struct LayerBuilder::Impl {
  explicit Impl(TarFormat format) : a(NewTarWriter(&out, format)) {}
  std::string out;
  struct archive* a;

  archive_entry* NewEntry(const std::string& path, unsigned type, const EntryMeta& m) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_uid(e, m.uid);
    archive_entry_set_gid(e, m.gid);
    archive_entry_set_mtime(e, m.mtime, m.mtime_nsec);
    for (const auto& [name, value] : m.xattrs) {
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
    return e;
  }

  void Write(archive_entry* e, const std::string& data = "") {
    int rc = archive_write_header(a, e);
    const char* err = archive_error_string(a);
    Require(rc == ARCHIVE_OK, "header " + std::to_string(rc) + ": " + (err ? err : "?"));
    if (!data.empty()) {
      Require(
          archive_write_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size()),
          "data");
    }
    archive_entry_free(e);
  }
};

LayerBuilder::LayerBuilder(TarFormat format) : impl_(new Impl(format)) {}
LayerBuilder::~LayerBuilder() {
  archive_write_free(impl_->a);
  delete impl_;
}

LayerBuilder& LayerBuilder::Dir(const std::string& path, EntryMeta meta) {
  impl_->Write(impl_->NewEntry(path, AE_IFDIR, meta));
  return *this;
}

LayerBuilder& LayerBuilder::File(const std::string& path, const std::string& content,
                                 EntryMeta meta) {
  archive_entry* e = impl_->NewEntry(path, AE_IFREG, meta);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  impl_->Write(e, content);
  return *this;
}

LayerBuilder& LayerBuilder::SparseFile(const std::string& path, uint64_t size,
                                       const std::vector<std::pair<uint64_t, std::string>>& data,
                                       EntryMeta meta) {
  archive_entry* e = impl_->NewEntry(path, AE_IFREG, meta);
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  for (const auto& [offset, bytes] : data) {
    archive_entry_sparse_add_entry(e, static_cast<la_int64_t>(offset),
                                   static_cast<la_int64_t>(bytes.size()));
  }
  Require(archive_write_header(impl_->a, e) == ARCHIVE_OK, "sparse header");
  archive_entry_free(e);
  // The pax writer takes the whole logical stream and drops the holes.
  static const std::string kZeros(1 << 20, '\0');
  uint64_t pos = 0;
  auto feed = [&](const char* p, uint64_t n) {
    Require(archive_write_data(impl_->a, p, n) == static_cast<la_ssize_t>(n), "sparse data");
  };
  for (const auto& [offset, bytes] : data) {
    for (; pos < offset; pos += std::min<uint64_t>(kZeros.size(), offset - pos)) {
      feed(kZeros.data(), std::min<uint64_t>(kZeros.size(), offset - pos));
    }
    feed(bytes.data(), bytes.size());
    pos += bytes.size();
  }
  for (; pos < size; pos += std::min<uint64_t>(kZeros.size(), size - pos)) {
    feed(kZeros.data(), std::min<uint64_t>(kZeros.size(), size - pos));
  }
  return *this;
}

LayerBuilder& LayerBuilder::Symlink(const std::string& path, const std::string& target,
                                    EntryMeta meta) {
  archive_entry* e = impl_->NewEntry(path, AE_IFLNK, meta);
  archive_entry_set_symlink(e, target.c_str());
  impl_->Write(e);
  return *this;
}

LayerBuilder& LayerBuilder::Hardlink(const std::string& path, const std::string& target) {
  archive_entry* e = impl_->NewEntry(path, AE_IFREG, {});
  archive_entry_set_hardlink(e, target.c_str());
  archive_entry_set_size(e, 0);
  impl_->Write(e);
  return *this;
}

LayerBuilder& LayerBuilder::CharDevice(const std::string& path, uint32_t major, uint32_t minor,
                                       EntryMeta meta) {
  archive_entry* e = impl_->NewEntry(path, AE_IFCHR, meta);
  archive_entry_set_rdevmajor(e, major);
  archive_entry_set_rdevminor(e, minor);
  impl_->Write(e);
  return *this;
}

LayerBuilder& LayerBuilder::BlockDevice(const std::string& path, uint32_t major, uint32_t minor,
                                        EntryMeta meta) {
  archive_entry* e = impl_->NewEntry(path, AE_IFBLK, meta);
  archive_entry_set_rdevmajor(e, major);
  archive_entry_set_rdevminor(e, minor);
  impl_->Write(e);
  return *this;
}

LayerBuilder& LayerBuilder::Fifo(const std::string& path, EntryMeta meta) {
  impl_->Write(impl_->NewEntry(path, AE_IFIFO, meta));
  return *this;
}

LayerBuilder& LayerBuilder::Whiteout(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return File(dir + ".wh." + name, "");
}

LayerBuilder& LayerBuilder::Opaque(const std::string& dir) {
  return File(dir + "/.wh..wh..opq", "");
}

LayerBuilder& LayerBuilder::CopyTar(const std::string& tar_path) {
  struct archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  Require(archive_read_open_filename(in, tar_path.c_str(), 1 << 20) == ARCHIVE_OK,
          "open " + tar_path);
  archive_entry* e;
  std::vector<char> buf(1 << 20);
  while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
    Require(archive_write_header(impl_->a, e) == ARCHIVE_OK, "copy header");
    la_ssize_t n;
    while ((n = archive_read_data(in, buf.data(), buf.size())) > 0) {
      Require(archive_write_data(impl_->a, buf.data(), static_cast<size_t>(n)) == n, "copy data");
    }
    Require(n == 0, "read " + tar_path);
  }
  archive_read_free(in);
  return *this;
}

std::string LayerBuilder::Finish() {
  Require(archive_write_close(impl_->a) == ARCHIVE_OK, "close");
  return impl_->out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Compress(const std::string& data, TestCompression c) {
  if (c == TestCompression::kZstd) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    Require(!ZSTD_isError(n), "zstd");
    out.resize(n);
    return out;
  }
  if (c == TestCompression::kGzip) {
    z_stream z{};
    Require(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit");
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    Require(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  }
  return data;
}

namespace {

const char* LayerMediaType(TestCompression c) {
  switch (c) {
    case TestCompression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case TestCompression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    case TestCompression::kNone:
      break;
  }
  return "application/vnd.oci.image.layer.v1.tar";
}

std::string ConfigJson(const ImageSpec& spec) {
  nlohmann::json diff_ids = nlohmann::json::array();
  nlohmann::json history = nlohmann::json::array();
  for (const std::string& l : spec.layers) {
    diff_ids.push_back("sha256:" + Sha256Hex(l));
    history.push_back({{"created_by", "lode test layer " + std::to_string(history.size())}});
  }
  nlohmann::json config = {{"architecture", "amd64"},
                           {"os", "linux"},
                           {"config",
                            {{"Entrypoint", spec.entrypoint},
                             {"Cmd", spec.cmd},
                             {"Env", spec.env},
                             {"WorkingDir", spec.working_dir},
                             {"User", spec.user}}},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                           {"history", history}};
  return config.dump();
}

}  // namespace

void WriteOciLayout(const std::string& dir, const ImageSpec& spec, TestCompression c) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/blobs/sha256");
  auto put_blob = [&](const std::string& data) {
    std::string hex = Sha256Hex(data);
    WriteFile(dir + "/blobs/sha256/" + hex, data);
    return nlohmann::json{{"digest", "sha256:" + hex}, {"size", data.size()}};
  };
  std::string config = ConfigJson(spec);
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"config", put_blob(config)},
                             {"layers", nlohmann::json::array()}};
  manifest["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json";
  for (const std::string& layer : spec.layers) {
    nlohmann::json d = put_blob(Compress(layer, c));
    d["mediaType"] = LayerMediaType(c);
    manifest["layers"].push_back(d);
  }
  nlohmann::json mdesc = put_blob(manifest.dump());
  mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json";
  mdesc["annotations"] = {{"org.opencontainers.image.ref.name", spec.ref}};
  mdesc["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", {mdesc}}};
  WriteFile(dir + "/index.json", index.dump());
  WriteFile(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

void WriteDockerArchive(const std::string& path, const ImageSpec& spec, DockerArchiveStyle style) {
  bool blobs = style == DockerArchiveStyle::kBlobs;
  std::string out;
  struct archive* a = NewTarWriter(&out);
  auto add = [&](const std::string& name, const std::string& data) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    Require(archive_write_header(a, e) == ARCHIVE_OK, "docker header");
    Require(archive_write_data(a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size()),
            "docker data");
    archive_entry_free(e);
  };
  std::string config = ConfigJson(spec);
  std::string config_name =
      blobs ? "blobs/sha256/" + Sha256Hex(config) : Sha256Hex(config) + ".json";
  nlohmann::json layers = nlohmann::json::array();
  for (const std::string& layer : spec.layers) {
    std::string name = blobs ? "blobs/sha256/" + Sha256Hex(layer) : Sha256Hex(layer) + "/layer.tar";
    add(name, layer);
    layers.push_back(name);
  }
  add(config_name, config);
  nlohmann::json manifest = nlohmann::json::array(
      {{{"Config", config_name}, {"RepoTags", {"test:" + spec.ref}}, {"Layers", layers}}});
  add("manifest.json", manifest.dump());
  Require(archive_write_close(a) == ARCHIVE_OK, "docker close");
  archive_write_free(a);
  WriteFile(path, out);
}

}  // namespace lode::testing
