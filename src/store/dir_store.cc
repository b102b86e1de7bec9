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
#include "store/roots.h"
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

  Result<std::vector<ObjectInfo>> ListObjects(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::error_code ec;
    // Walk only the directory the prefix points into.
    std::string dir_part = prefix.substr(0, prefix.find_last_of('/') + 1);
    fs::path start = fs::path(root_) / dir_part;
    if (!fs::exists(start, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code size_ec;
      if (!it->is_regular_file()) continue;
      std::string key = it->path().lexically_relative(root_).string();
      uint64_t size = it->file_size(size_ec);
      if (size_ec) continue;  // removed while listing
      if (key.rfind(prefix, 0) == 0 && ValidateKey(key).ok()) out.push_back({std::move(key), size});
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
    RemoveEmptyParents(fs::path(key).parent_path());
    return Status::Ok();
  }

  // Temporary files of puts that never committed (a killed push).
  Result<uint64_t> RemoveAbandonedPuts(std::chrono::seconds age) override {
    uint64_t removed = 0;
    std::error_code ec;
    auto cutoff = fs::file_time_type::clock::now() - age;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code stat_ec;
      if (it->path().filename().string().find(".tmp.") == std::string::npos) continue;
      if (!it->is_regular_file(stat_ec) || it->last_write_time(stat_ec) > cutoff || stat_ec) {
        continue;
      }
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
    if (ec) return Status::IOError("scan " + Describe() + ": " + ec.message());
    return removed;
  }

  std::string Describe() const override { return "dir://" + root_; }

 private:
  std::string PathOf(const std::string& key) const { return root_ + "/" + key; }
  // Deleting a root's last object leaves no directories behind; a directory
  // still in use is not empty and stays.
  void RemoveEmptyParents(fs::path dir) const {
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (::rmdir(PathOf(dir.string()).c_str()) != 0) return;
    }
  }
  std::string root_;
};

Result<std::unique_ptr<ObjectStore>> OpenBackend(const std::string& url) {
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

}  // namespace

Result<std::vector<std::string>> ObjectStore::List(const std::string& prefix) {
  LODE_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(prefix));
  std::vector<std::string> keys;
  keys.reserve(objects.size());
  for (ObjectInfo& o : objects) keys.push_back(std::move(o.key));
  return keys;
}

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

Result<std::unique_ptr<ObjectStore>> OpenStore(const std::string& url,
                                               std::chrono::milliseconds root_state_ttl) {
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenBackend(url));
  return AlarmOnExpiredReads(std::move(store), root_state_ttl);
}

}  // namespace lode::store
