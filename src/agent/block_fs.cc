#define FUSE_USE_VERSION 312
#include "agent/block_fs.h"

#include <fuse.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lode::agent {
namespace {

constexpr unsigned kMaxRequest = 1 << 20;  // above 1 MiB max_write breaks the mount
constexpr unsigned kMaxThreads = 16;

BlockFs& Self() { return *static_cast<BlockFs*>(fuse_get_context()->private_data); }

// Open files carry their attachment, so a read never looks up a path.
std::shared_ptr<Attachment>& Handle(fuse_file_info* fi) {
  return *reinterpret_cast<std::shared_ptr<Attachment>*>(fi->fh);
}

std::shared_ptr<Attachment> FindPath(const char* path) {
  if (path == nullptr || path[0] != '/' || path[1] == '\0') return nullptr;
  return Self().hooks().find(path + 1);
}

int ErrnoOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kRejected:
      return EROFS;
    case StatusCode::kInvalidArgument:
      return EFBIG;
    default:
      return EIO;
  }
}

void* Init(fuse_conn_info* conn, fuse_config* cfg) {
  conn->max_read = kMaxRequest;
  conn->max_write = kMaxRequest;
  conn->max_readahead = kMaxRequest;
  cfg->entry_timeout = 0;  // a detached image disappears at once
  cfg->attr_timeout = 1;
  cfg->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  std::memset(st, 0, sizeof(*st));
  bool open_file = fi != nullptr && fi->fh != 0;
  if (!open_file && std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  std::shared_ptr<Attachment> a = open_file ? Handle(fi) : FindPath(path);
  if (!a) return -ENOENT;
  st->st_mode = S_IFREG | (a->info().writable ? 0644 : 0444);
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(a->info().size);
  st->st_blksize = 4096;
  st->st_blocks = static_cast<blkcnt_t>(a->info().size / 512);
  return 0;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
            fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const auto& a : Self().hooks().list()) {
    fill(buf, a->info().id.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  }
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  std::shared_ptr<Attachment> a = FindPath(path);
  if (!a) return -ENOENT;
  if ((fi->flags & O_ACCMODE) != O_RDONLY && !a->info().writable) return -EROFS;
  if (fi->flags & O_TRUNC) return -EPERM;
  a->open_handles()++;
  fi->fh = reinterpret_cast<uint64_t>(new std::shared_ptr<Attachment>(std::move(a)));
  fi->keep_cache = 1;
  return 0;
}

int Release(const char*, fuse_file_info* fi) {
  auto* handle = reinterpret_cast<std::shared_ptr<Attachment>*>(fi->fh);
  (*handle)->open_handles()--;
  delete handle;
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Attachment& a = *Handle(fi);
  uint64_t offset = static_cast<uint64_t>(off);
  if (off < 0) return -EINVAL;
  if (offset >= a.info().size) return 0;
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, a.info().size - offset));
  Status s = a.Read(offset, std::span(reinterpret_cast<uint8_t*>(buf), n));
  if (!s.ok()) {
    Self().hooks().log("read of " + a.info().id + " at " + std::to_string(offset) + ": " +
                       s.ToString());
    return -EIO;
  }
  return static_cast<int>(n);
}

int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Attachment& a = *Handle(fi);
  if (off < 0) return -EINVAL;
  Status s =
      a.Write(static_cast<uint64_t>(off), std::span(reinterpret_cast<const uint8_t*>(buf), size));
  if (!s.ok()) {
    if (s.code() != StatusCode::kRejected) {
      Self().hooks().log("write to " + a.info().id + " at " + std::to_string(off) + ": " +
                         s.ToString());
    }
    return -ErrnoOf(s);
  }
  return static_cast<int>(size);
}

int Flush(const char*, fuse_file_info* fi) {
  Status s = Handle(fi)->Flush();
  return s.ok() ? 0 : -EIO;
}

int Fsync(const char*, int, fuse_file_info* fi) { return Flush(nullptr, fi); }

// The block file keeps its size: only "truncating" to it is allowed.
int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  std::shared_ptr<Attachment> a = fi != nullptr && fi->fh != 0 ? Handle(fi) : FindPath(path);
  if (!a) return -ENOENT;
  return static_cast<uint64_t>(size) == a->info().size ? 0 : -EPERM;
}

fuse_operations Operations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.release = Release;
  ops.read = Read;
  ops.write = Write;
  ops.flush = Flush;
  ops.fsync = Fsync;
  ops.truncate = Truncate;
  return ops;
}

}  // namespace

Result<std::unique_ptr<BlockFs>> BlockFs::Mount(const std::string& mountpoint, BlockFsHooks hooks) {
  std::error_code ec;
  std::filesystem::create_directories(mountpoint, ec);
  if (ec) return Status::IOError("create mountpoint " + mountpoint + ": " + ec.message());
  std::unique_ptr<BlockFs> fs(new BlockFs(std::move(hooks)));
  std::string options =
      "fsname=lode,subtype=lode,default_permissions,max_read=" + std::to_string(kMaxRequest);
  std::vector<char*> argv = {const_cast<char*>("lode"), const_cast<char*>("-o"), options.data()};
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_operations ops = Operations();
  fs->fuse_ = fuse_new(&args, &ops, sizeof(ops), fs.get());
  fuse_opt_free_args(&args);
  if (fs->fuse_ == nullptr) return Status::IOError("cannot set up the FUSE file system");
  if (fuse_mount(fs->fuse_, mountpoint.c_str()) != 0) {
    fuse_destroy(fs->fuse_);
    fs->fuse_ = nullptr;
    return Status::IOError("cannot mount FUSE at " + mountpoint + " (is /dev/fuse available?)");
  }
  fs->loop_ = std::thread([f = fs->fuse_] {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, kMaxThreads);
    fuse_loop_mt(f, cfg);
    fuse_loop_cfg_destroy(cfg);
  });
  return fs;
}

BlockFs::~BlockFs() {
  if (fuse_ == nullptr) return;
  fuse_exit(fuse_);
  fuse_unmount(fuse_);
  if (loop_.joinable()) loop_.join();
  fuse_destroy(fuse_);
}

}  // namespace lode::agent
