// Layer 0 (base): every file type, modes incl. setuid/setgid/sticky, owners,
//   nanosecond mtimes, xattrs (in-inode and block-sized, security.capability),
//   hardlinks, fast/slow/dangling symlinks, devices with small and large
//   numbers, a FIFO, odd and long names, a deep chain and a wide directory,
//   a sparse 5 GiB file, a file with zero blocks, an empty file.
// Layer 1: replaces a file (shadowing), replaces a hardlink's target (the link
//   keeps the old content), whites out a file and a directory, makes a
//   directory opaque, re-declares a directory's metadata, turns a file into a
//   directory and a directory into a file, links to a lower layer's file.
// Layer 2 (top): deletes that lower file (the cross-layer link keeps it),
//   edits files, adds to the wide directory.
#include "testing/rules_image.h"

#include <algorithm>
#include <cstdio>

namespace lode::testing {
namespace {

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i * 7 % 61));
  return s;
}

std::string CapabilityXattr() {
  // vfs_cap_data revision 2: magic, permitted and inheritable sets.
  std::string v(20, '\0');
  v[3] = 0x02;
  v[0] = 0x01;  // effective
  v[4] = 0x00;
  v[5] = 0x04;  // CAP_NET_BIND_SERVICE (bit 10)
  return v;
}

std::string BaseLayer(const RulesImageOptions& o) {
  LayerBuilder b;
  b.Dir("./", {.mode = 0755});
  b.Dir("etc", {.mode = 0755, .mtime = 1600000000, .mtime_nsec = 123456789});
  b.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  b.File("etc/replaced", "old content\n");
  b.Symlink("etc/short-link", "passwd");
  b.Symlink("etc/long-link", "/" + std::string(180, 'l') + "/target");
  b.Symlink("etc/dangling", "does/not/exist");
  b.Dir("usr", {.mode = 0755});
  b.Dir("usr/bin", {.mode = 0755});
  b.File("usr/bin/tool", "#!/bin/sh\necho tool\n", {.mode = 0755});
  b.File("usr/bin/setuid", "suid", {.mode = 04755});
  b.File("usr/bin/captool", "cap",
         {.mode = 0755, .xattrs = {{"security.capability", CapabilityXattr()}}});
  b.Dir("shared", {.mode = 02775, .gid = 50});
  b.Dir("tmp", {.mode = 01777});
  b.File("tmp/owned", "owned\n", {.mode = 0600, .uid = 1000, .gid = 1000});
  b.File("tmp/bigids", "ids\n", {.mode = 0640, .uid = 100000, .gid = 200000});
  b.File("tmp/nanos", "n\n", {.mtime = 1712345678, .mtime_nsec = 987654321});
  b.File("tmp/old", "o\n", {.mtime = 1000});
  b.Dir("xattr", {.mode = 0755, .xattrs = {{"user.dir", "on a directory"}}});
  b.File("xattr/small", "x", {.xattrs = {{"user.a", "1"}, {"trusted.t", "tt"}}});
  b.File("xattr/big", "x", {.xattrs = {{"user.big", Pattern(1500, 'a')}, {"user.small", "s"}}});
  b.File("xattr/big-same", "y",
         {.xattrs = {{"user.big", Pattern(1500, 'a')}, {"user.small", "s"}}});
  b.Dir("data", {.mode = 0755});
  b.File("data/orig", "original content\n");
  b.Hardlink("data/link", "data/orig");
  b.File("data/keep", "kept by a link from layer 1\n");
  b.File("data/empty", "");
  std::string zeros = Pattern(8192, 'z') + std::string(65536, '\0') + Pattern(5000, 'q');
  b.File("data/zero-blocks", zeros);
  b.SparseFile("data/sparse-5g", o.sparse_size,
               {{0, "head"},
                {std::min<uint64_t>(1ull << 30, o.sparse_size / 2) + 123, "middle"},
                {o.sparse_size - 10, "tail-bytes"}});
  b.Dir("dev", {.mode = 0755});
  b.CharDevice("dev/null", 1, 3, {.mode = 0666});
  b.BlockDevice("dev/sda", 8, 0, {.mode = 0660, .gid = 6});
  b.CharDevice("dev/bignum", 300, 70000, {.mode = 0600});
  b.Fifo("dev/fifo", {.mode = 0644});
  b.Dir("odd", {.mode = 0755});
  b.File("odd/name with spaces", "1");
  b.File("odd/\u00fcn\u00efc\u00f6d\u00e9", "2");
  b.File("odd/new\nline", "3");
  b.File("odd/-dash", "4");
  b.File("odd/" + std::string(255, 'x'), "5");
  std::string deep = "deep";
  b.Dir(deep);
  for (int i = 0; i < 40; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/deep-directory-level-%02d", i);
    deep += name;
    b.Dir(deep);
  }
  b.File(deep + "/bottom", "bottom of a long path\n");
  b.Dir("wide", {.mode = 0755});
  for (uint32_t i = 0; i < o.wide_entries; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "wide/file-%05u", i);
    b.File(name, i % 100 == 0 ? std::string(name) : "");
  }
  b.Dir("opaque", {.mode = 0755});
  b.File("opaque/lower-a", "a");
  b.File("opaque/lower-b", "b");
  b.Dir("gone", {.mode = 0755});
  b.File("gone/inner", "deleted with its directory");
  b.Dir("gone/sub", {.mode = 0755});
  b.File("swap", "a file that becomes a directory");
  b.Dir("swap2", {.mode = 0755});
  b.File("swap2/child", "a directory that becomes a file");
  return b.Finish();
}

std::string MiddleLayer() {
  LayerBuilder b;
  b.Dir("etc", {.mode = 0750, .uid = 0, .gid = 0, .mtime = 1650000000, .mtime_nsec = 5});
  b.File("etc/replaced", "new content from layer 1\n");
  b.Dir("usr", {.mode = 0755});
  b.Dir("usr/bin", {.mode = 0755});
  b.Whiteout("usr/bin/tool");
  b.Whiteout("gone");
  b.Dir("opaque", {.mode = 0700});
  b.Opaque("opaque");
  b.File("opaque/upper-c", "c");
  b.Dir("data", {.mode = 0755});
  b.File("data/orig", "replaced in layer 1\n");
  b.Hardlink("data/xlink", "data/keep");
  b.Dir("swap", {.mode = 0755});
  b.File("swap/inside", "now a directory");
  b.Whiteout("swap2");
  b.File("swap2", "now a file");
  return b.Finish();
}

std::string TopLayer() {
  LayerBuilder b;
  b.Dir("etc", {.mode = 0750, .mtime = 1650000000, .mtime_nsec = 5});
  b.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
  b.Dir("data", {.mode = 0755});
  b.Whiteout("data/keep");
  b.Dir("wide", {.mode = 0755});
  b.File("wide/zzz-added-on-top", "new");
  return b.Finish();
}

}  // namespace

ImageSpec BuildRulesImage(const RulesImageOptions& options) {
  ImageSpec spec;
  spec.layers = {BaseLayer(options), MiddleLayer(), TopLayer()};
  spec.entrypoint = {"/usr/bin/tool"};
  return spec;
}

}  // namespace lode::testing
