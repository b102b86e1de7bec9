// Builds layer tarballs (pax format, via libarchive's writer) and writes them
// as OCI image layouts or docker-archive tarballs, compressed with zlib or
// libzstd: test inputs made without any of lode's own image code.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lode::testing {

struct EntryMeta {
  uint32_t mode = 0644;  // permission bits
  uint32_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  uint32_t mtime_nsec = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

enum class TarFormat { kPax, kGnu };

class LayerBuilder {
 public:
  explicit LayerBuilder(TarFormat format = TarFormat::kPax);
  ~LayerBuilder();
  LayerBuilder(const LayerBuilder&) = delete;

  LayerBuilder& Dir(const std::string& path, EntryMeta meta = {.mode = 0755});
  LayerBuilder& File(const std::string& path, const std::string& content, EntryMeta meta = {});
  // A sparse file of `size` bytes with data at the given offsets.
  LayerBuilder& SparseFile(const std::string& path, uint64_t size,
                           const std::vector<std::pair<uint64_t, std::string>>& data,
                           EntryMeta meta = {});
  LayerBuilder& Symlink(const std::string& path, const std::string& target,
                        EntryMeta meta = {.mode = 0777});
  LayerBuilder& Hardlink(const std::string& path, const std::string& target);
  LayerBuilder& CharDevice(const std::string& path, uint32_t major, uint32_t minor,
                           EntryMeta meta = {});
  LayerBuilder& BlockDevice(const std::string& path, uint32_t major, uint32_t minor,
                            EntryMeta meta = {});
  LayerBuilder& Fifo(const std::string& path, EntryMeta meta = {});
  LayerBuilder& Whiteout(const std::string& path);  // deletes `path` of lower layers
  LayerBuilder& Opaque(const std::string& dir);     // hides lower content of `dir`
  // Appends every entry of an existing tar stream (a rootfs from mmdebstrap).
  LayerBuilder& CopyTar(const std::string& tar_path);

  // The finished, uncompressed tar.
  std::string Finish();

 private:
  struct Impl;
  Impl* impl_;
};

enum class TestCompression { kNone, kGzip, kZstd };

struct ImageSpec {
  std::vector<std::string> layers;  // uncompressed tars, base first
  std::vector<std::string> entrypoint{"/bin/sh"};
  std::vector<std::string> cmd;
  std::vector<std::string> env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::string working_dir = "/";
  std::string user;  // empty: root
  std::string ref = "latest";
};

std::string Compress(const std::string& data, TestCompression c);
std::string Sha256Hex(const std::string& data);

// Writes an OCI image layout with the layers compressed as asked.
void WriteOciLayout(const std::string& dir, const ImageSpec& spec, TestCompression c);
// Writes a `docker save` style tarball: uncompressed <id>/layer.tar members
// (docker before 25), or content-addressed blobs/sha256/<hex> members (25+).
enum class DockerArchiveStyle { kLegacy, kBlobs };
void WriteDockerArchive(const std::string& path, const ImageSpec& spec,
                        DockerArchiveStyle style = DockerArchiveStyle::kLegacy);

}  // namespace lode::testing
