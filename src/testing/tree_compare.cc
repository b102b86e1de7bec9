#include "testing/tree_compare.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

std::set<std::string> ListTree(const std::string& root, const CompareOptions& options) {
  std::set<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = it->path().lexically_relative(root).string();
    if (options.ignore.count(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    out.insert(rel);
  }
  return out;
}

std::map<std::string, std::string> Xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  for (size_t pos = 0; pos < static_cast<size_t>(std::max<ssize_t>(n, 0));) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    std::string value(static_cast<size_t>(std::max<ssize_t>(vn, 0)), '\0');
    if (vn > 0) ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    out[name] = value;
  }
  return out;
}

size_t ReadFull(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

bool SameContent(const std::string& a, const std::string& b) {
  int fa = ::open(a.c_str(), O_RDONLY), fb = ::open(b.c_str(), O_RDONLY);
  bool same = fa >= 0 && fb >= 0;
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (same) {
    size_t na = ReadFull(fa, ba.data(), ba.size());
    size_t nb = ReadFull(fb, bb.data(), bb.size());
    same = na == nb && std::equal(ba.begin(), ba.begin() + static_cast<ptrdiff_t>(na), bb.begin());
    if (na == 0) break;
  }
  if (fa >= 0) ::close(fa);
  if (fb >= 0) ::close(fb);
  return same;
}

void CompareEntry(const std::string& rel, const std::string& pa, const std::string& pb,
                  std::vector<std::string>& diffs) {
  struct stat sa, sb;
  if (::lstat(pa.c_str(), &sa) != 0 || ::lstat(pb.c_str(), &sb) != 0) {
    diffs.push_back(rel + ": cannot stat");
    return;
  }
  auto differ = [&](const std::string& what, auto va, auto vb) {
    if (va != vb)
      diffs.push_back(rel + ": " + what + " " + std::to_string(va) + " != " + std::to_string(vb));
  };
  differ("mode", sa.st_mode, sb.st_mode);
  differ("uid", sa.st_uid, sb.st_uid);
  differ("gid", sa.st_gid, sb.st_gid);
  if (rel != ".") {
    differ("nlink", sa.st_nlink, sb.st_nlink);
    differ("mtime", sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    differ("mtime_ns", sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
  }
  if (S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode)) {
    differ("size", sa.st_size, sb.st_size);
    if (sa.st_size == sb.st_size && !SameContent(pa, pb))
      diffs.push_back(rel + ": content differs");
  }
  if (S_ISLNK(sa.st_mode) && S_ISLNK(sb.st_mode)) {
    if (fs::read_symlink(pa) != fs::read_symlink(pb))
      diffs.push_back(rel + ": symlink target differs");
  }
  if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
    differ("rdev major", major(sa.st_rdev), major(sb.st_rdev));
    differ("rdev minor", minor(sa.st_rdev), minor(sb.st_rdev));
  }
  if (Xattrs(pa) != Xattrs(pb)) diffs.push_back(rel + ": xattrs differ");
}

}  // namespace

std::vector<std::string> CompareTrees(const std::string& a, const std::string& b,
                                      const CompareOptions& options) {
  std::vector<std::string> diffs;
  std::set<std::string> la = ListTree(a, options), lb = ListTree(b, options);
  for (const std::string& p : la) {
    if (!lb.count(p)) diffs.push_back("only in " + a + ": " + p);
  }
  for (const std::string& p : lb) {
    if (!la.count(p)) diffs.push_back("only in " + b + ": " + p);
  }
  la.insert(".");
  for (const std::string& p : la) {
    if (diffs.size() >= options.max_differences) break;
    if (p == "." || lb.count(p)) CompareEntry(p, a + "/" + p, b + "/" + p, diffs);
  }
  return diffs;
}

}  // namespace lode::testing
