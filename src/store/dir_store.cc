// dir://PATH: one file per object under PATH. Puts write a temporary file
// beside the object, fsync it and rename it into place (AtomicFile), so a
// crash leaves either the old object or the new one. Temporary names contain
// ".tmp." which no valid key does, so List never shows them.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "store/object_store.h"
#include "store/s3_store.h"
#include "util/file.h"

namespace lode::store {
namespace {

namespace fs = std::filesystem;

class DirStore : public ObjectStore {
 public:
  explicit DirStore(std::string root) : root_(std::move(root)) {}

  Status Put(const std::string& key, std::span<const uint8_t> data) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    std::string path = PathOf(key);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return Status::IOError("create directory for " + key + ": " + ec.message());
    LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
    LODE_RETURN_IF_ERROR(PWriteAll(file.fd(), data, 0, path));
    return file.Commit();
  }

  Result<std::vector<uint8_t>> Get(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    Result<std::vector<uint8_t>> bytes = ReadFileToBytes(PathOf(key));
    if (!bytes.ok()) {
      if (bytes.status().code() == StatusCode::kNotFound)
        return Status::NotFound(key + " in " + Describe());
      return bytes.status();
    }
    return bytes;
  }

  Result<bool> Exists(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    struct stat st;
    if (::stat(PathOf(key).c_str(), &st) == 0) return S_ISREG(st.st_mode);
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Status::FromErrno(errno, "stat " + key);
  }

  Result<std::vector<std::string>> List(const std::string& prefix) override {
    std::vector<std::string> out;
    std::error_code ec;
    // Walk only the directory the prefix points into.
    std::string dir_part = prefix.substr(0, prefix.find_last_of('/') + 1);
    fs::path start = fs::path(root_) / dir_part;
    if (!fs::exists(start, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string key = it->path().lexically_relative(root_).string();
      if (key.rfind(prefix, 0) == 0 && ValidateKey(key).ok()) out.push_back(std::move(key));
    }
    if (ec) return Status::IOError("list " + prefix + " in " + Describe() + ": " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
  }

  Status Delete(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    if (::unlink(PathOf(key).c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "delete " + key);
    }
    return Status::Ok();
  }

  std::string Describe() const override { return "dir://" + root_; }

 private:
  std::string PathOf(const std::string& key) const { return root_ + "/" + key; }
  std::string root_;
};

}  // namespace

Status ValidateKey(const std::string& key) {
  if (key.empty() || key.size() > 1024)
    return Status::InvalidArgument("bad object key '" + key + "'");
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string::npos) slash = key.size();
    std::string_view seg(key.data() + start, slash - start);
    bool ok =
        !seg.empty() && seg != "." && seg != ".." && seg.find(".tmp.") == std::string_view::npos;
    for (char c : seg) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    }
    if (!ok) return Status::InvalidArgument("bad object key '" + key + "'");
    start = slash + 1;
  }
  return Status::Ok();
}

Result<std::unique_ptr<ObjectStore>> OpenStore(const std::string& url) {
  constexpr std::string_view kDir = "dir://";
  if (url.rfind(kDir, 0) == 0) {
    std::string path = url.substr(kDir.size());
    if (path.empty()) return Status::InvalidArgument("store URL '" + url + "' has no path");
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) return Status::IOError("open store " + url + ": " + ec.message());
    return std::unique_ptr<ObjectStore>(
        std::make_unique<DirStore>(fs::absolute(path).lexically_normal().string()));
  }
  if (url.rfind("s3://", 0) == 0) return OpenS3Store(url);
  return Status::InvalidArgument("unknown store scheme in '" + url +
                                 "' (supported: dir://PATH, s3://BUCKET/PREFIX?endpoint=URL)");
}

}  // namespace lode::store
