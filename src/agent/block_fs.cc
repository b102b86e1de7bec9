#include "agent/block_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lode::agent {
namespace {

constexpr unsigned kThreads = 16;
constexpr uint64_t kRootNode = FUSE_ROOT_ID;
constexpr uint32_t kOurMinor = 38;  // the uapi header these structs come from
constexpr uint32_t kOldestMinor = 31;

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

fuse_attr DirAttr() {
  fuse_attr attr{};
  attr.ino = kRootNode;
  attr.mode = S_IFDIR | 0755;
  attr.nlink = 2;
  attr.blksize = 4096;
  return attr;
}

fuse_attr FileAttr(const Attachment& a) {
  fuse_attr attr{};
  attr.ino = a.info().node;
  attr.mode = S_IFREG | (a.info().writable ? 0644 : 0444);
  attr.nlink = 1;
  attr.size = a.info().size;
  attr.blocks = a.info().size / 512;
  attr.blksize = 4096;
  return attr;
}

fuse_attr_out AttrOut(const fuse_attr& attr) {
  fuse_attr_out out{};
  out.attr_valid = 1;  // the size of an image never changes
  out.attr = attr;
  return out;
}

// A name as its bytes: the request body up to its NUL.
std::string NameOf(const fuse::Request& r) {
  const char* p = reinterpret_cast<const char*>(r.body.data());
  return std::string(p, strnlen(p, r.body.size()));
}

}  // namespace

BlockFs::BlockFs(int fuse_fd, BlockFsHooks hooks, UniqueFd stop_event)
    : fd_(fuse_fd), hooks_(std::move(hooks)), stop_event_(std::move(stop_event)) {}

Result<std::unique_ptr<BlockFs>> BlockFs::Serve(int fuse_fd, BlockFsHooks hooks,
                                                const std::map<uint64_t, std::string>& handles) {
  UniqueFd stop_event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event.valid()) return Status::FromErrno(errno, "eventfd");
  std::unique_ptr<BlockFs> fs(new BlockFs(fuse_fd, std::move(hooks), std::move(stop_event)));
  for (const auto& [fh, id] : handles) {
    std::shared_ptr<Attachment> a = fs->hooks_.find(id);
    if (!a) continue;  // its attachment could not be restored: reads get EBADF
    a->open_handles()++;
    fs->handles_[fh] = std::move(a);
    fs->next_handle_ = std::max(fs->next_handle_, fh + 1);
  }
  for (unsigned i = 0; i < kThreads; ++i) fs->threads_.emplace_back([f = fs.get()] { f->Loop(); });
  return fs;
}

BlockFs::~BlockFs() { Stop(); }

void BlockFs::Stop() {
  stopping_ = true;
  uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof(one));
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::map<uint64_t, std::string> BlockFs::Handles() const {
  std::lock_guard lock(mu_);
  std::map<uint64_t, std::string> out;
  for (const auto& [fh, a] : handles_) out[fh] = a->info().id;
  return out;
}

void BlockFs::Loop() {
  std::vector<uint8_t> buffer(fuse::kRequestBufferSize);
  std::vector<uint8_t> reply(fuse::kMaxPayload);
  while (!stopping_.load()) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0 || stopping_.load()) return;
    if (fds[0].revents & (POLLERR | POLLHUP)) return;  // unmounted
    Result<std::optional<fuse::Request>> r = fuse::ReadRequest(fd_, buffer);
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kUnavailable) hooks_.log(r.status().ToString());
      return;
    }
    if (*r) Dispatch(**r, reply);
  }
}

void BlockFs::Sent(const Status& s) {
  if (!s.ok()) hooks_.log(s.ToString());
}

void BlockFs::Answer(uint64_t unique, int error) { Sent(fuse::Reply(fd_, unique, error)); }

void BlockFs::Dispatch(const fuse::Request& r, std::vector<uint8_t>& reply) {
  switch (r.header.opcode) {
    case FUSE_INIT:
      return Init(r);
    case FUSE_LOOKUP:
      return Lookup(r);
    case FUSE_GETATTR:
      return GetAttr(r);
    case FUSE_SETATTR:
      return SetAttr(r);
    case FUSE_OPEN:
      return Open(r);
    case FUSE_RELEASE:
      return Release(r);
    case FUSE_READ:
      return Read(r, reply);
    case FUSE_WRITE:
      return Write(r);
    case FUSE_FLUSH:
      if (const auto* in = r.Arg<fuse_flush_in>()) return Sync(r, in->fh);
      return Answer(r.header.unique, EINVAL);
    case FUSE_FSYNC:
      if (const auto* in = r.Arg<fuse_fsync_in>()) return Sync(r, in->fh);
      return Answer(r.header.unique, EINVAL);
    case FUSE_OPENDIR:
      return Sent(fuse::ReplyStruct(fd_, r.header.unique, fuse_open_out{}));
    case FUSE_READDIR:
      return ReadDir(r, reply);
    case FUSE_RELEASEDIR:
    case FUSE_DESTROY:
      return Answer(r.header.unique, 0);
    case FUSE_STATFS: {
      fuse_statfs_out out{};
      out.st.bsize = out.st.frsize = 4096;
      out.st.namelen = 255;
      return Sent(fuse::ReplyStruct(fd_, r.header.unique, out));
    }
    default:
      if (fuse::ExpectsReply(r.header.opcode)) Answer(r.header.unique, ENOSYS);
  }
}

void BlockFs::Init(const fuse::Request& r) {
  const auto* in = r.Arg<fuse_init_in>();
  if (in == nullptr || in->major != FUSE_KERNEL_VERSION || in->minor < kOldestMinor) {
    return Answer(r.header.unique, EPROTO);
  }
  if (hooks_.initializing) hooks_.initializing();
  fuse_init_out out{};
  out.major = FUSE_KERNEL_VERSION;
  out.minor = std::min(in->minor, kOurMinor);
  // No readahead: loop devices and QEMU's disks read images with O_DIRECT,
  // so the only reader through the page cache is a restored VM's mapped
  // memory, where reading around a guest's fault loads chunks the guest
  // never touches (docs/design.md, "Memory snapshots").
  out.max_readahead = 0;
  out.flags = in->flags & (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ASYNC_DIO | FUSE_MAX_PAGES |
                           FUSE_PARALLEL_DIROPS);
  out.max_background = 64;
  out.congestion_threshold = 48;
  out.max_write = fuse::kMaxPayload;
  out.time_gran = 1;
  out.max_pages = fuse::kMaxPayload / 4096;
  Sent(fuse::ReplyStruct(fd_, r.header.unique, out));
}

std::shared_ptr<Attachment> BlockFs::ByNode(uint64_t node) const {
  for (std::shared_ptr<Attachment>& a : hooks_.list()) {
    if (a->info().node == node) return a;
  }
  return nullptr;
}

std::shared_ptr<Attachment> BlockFs::ByHandle(uint64_t fh) const {
  std::lock_guard lock(mu_);
  auto it = handles_.find(fh);
  return it == handles_.end() ? nullptr : it->second;
}

void BlockFs::Lookup(const fuse::Request& r) {
  std::shared_ptr<Attachment> a = r.header.nodeid == kRootNode ? hooks_.find(NameOf(r)) : nullptr;
  if (!a) return Answer(r.header.unique, ENOENT);
  fuse_entry_out out{};
  out.nodeid = a->info().node;
  out.attr_valid = 1;
  out.attr = FileAttr(*a);  // entry_valid 0: a detached image disappears at once
  Sent(fuse::ReplyStruct(fd_, r.header.unique, out));
}

void BlockFs::GetAttr(const fuse::Request& r) {
  if (r.header.nodeid == kRootNode) {
    return Sent(fuse::ReplyStruct(fd_, r.header.unique, AttrOut(DirAttr())));
  }
  const auto* in = r.Arg<fuse_getattr_in>();
  std::shared_ptr<Attachment> a =
      in && (in->getattr_flags & FUSE_GETATTR_FH) ? ByHandle(in->fh) : nullptr;
  if (!a) a = ByNode(r.header.nodeid);
  if (!a) return Answer(r.header.unique, ENOENT);
  Sent(fuse::ReplyStruct(fd_, r.header.unique, AttrOut(FileAttr(*a))));
}

// The block file keeps its size, mode and owner: only "truncating" to its
// size (and times, which are not kept) is allowed.
void BlockFs::SetAttr(const fuse::Request& r) {
  const auto* in = r.Arg<fuse_setattr_in>();
  std::shared_ptr<Attachment> a = r.header.nodeid == kRootNode ? nullptr : ByNode(r.header.nodeid);
  if (!in || !a) return Answer(r.header.unique, in ? ENOENT : EINVAL);
  if ((in->valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) ||
      ((in->valid & FATTR_SIZE) && in->size != a->info().size)) {
    return Answer(r.header.unique, EPERM);
  }
  Sent(fuse::ReplyStruct(fd_, r.header.unique, AttrOut(FileAttr(*a))));
}

void BlockFs::Open(const fuse::Request& r) {
  const auto* in = r.Arg<fuse_open_in>();
  std::shared_ptr<Attachment> a = ByNode(r.header.nodeid);
  if (!in || !a) return Answer(r.header.unique, in ? ENOENT : EINVAL);
  // A read-only attachment may still be opened for writing: QEMU maps
  // snapshot memory privately (copy-on-write, nothing reaches the file)
  // from a file it opens read-write. Its writes fail (EROFS) all the same.
  if (in->flags & O_TRUNC) return Answer(r.header.unique, EPERM);
  fuse_open_out out{};
  out.open_flags = FOPEN_KEEP_CACHE;
  {
    std::lock_guard lock(mu_);
    out.fh = next_handle_++;
    a->open_handles()++;
    handles_[out.fh] = std::move(a);
  }
  if (hooks_.handles_changed) hooks_.handles_changed();
  Sent(fuse::ReplyStruct(fd_, r.header.unique, out));
}

// Idempotent: a release resent after a restart finds its handle gone.
void BlockFs::Release(const fuse::Request& r) {
  const auto* in = r.Arg<fuse_release_in>();
  if (in) {
    std::lock_guard lock(mu_);
    auto it = handles_.find(in->fh);
    if (it != handles_.end()) {
      it->second->open_handles()--;
      handles_.erase(it);
    }
  }
  if (hooks_.handles_changed) hooks_.handles_changed();
  Answer(r.header.unique, 0);
}

void BlockFs::Read(const fuse::Request& r, std::vector<uint8_t>& reply) {
  const auto* in = r.Arg<fuse_read_in>();
  std::shared_ptr<Attachment> a = in ? ByHandle(in->fh) : nullptr;
  if (!a) return Answer(r.header.unique, in ? EBADF : EINVAL);
  uint64_t size = a->info().size;
  if (in->offset >= size) return Answer(r.header.unique, 0);
  size_t n = static_cast<size_t>(
      std::min<uint64_t>({in->size, size - in->offset, static_cast<uint64_t>(reply.size())}));
  std::span<uint8_t> out(reply.data(), n);
  Status s = a->Read(in->offset, out);
  if (!s.ok()) {
    hooks_.log("read of " + a->info().id + " at " + std::to_string(in->offset) + ": " +
               s.ToString());
    return Answer(r.header.unique, EIO);
  }
  Sent(fuse::Reply(fd_, r.header.unique, 0, {out}));
}

void BlockFs::Write(const fuse::Request& r) {
  const auto* in = r.Arg<fuse_write_in>();
  std::shared_ptr<Attachment> a = in ? ByHandle(in->fh) : nullptr;
  if (!a) return Answer(r.header.unique, in ? EBADF : EINVAL);
  std::span<const uint8_t> data = r.body.subspan(sizeof(fuse_write_in));
  if (data.size() < in->size) return Answer(r.header.unique, EINVAL);
  Status s = a->Write(in->offset, data.first(in->size));
  if (!s.ok()) {
    if (s.code() != StatusCode::kRejected) {
      hooks_.log("write to " + a->info().id + " at " + std::to_string(in->offset) + ": " +
                 s.ToString());
    }
    return Answer(r.header.unique, ErrnoOf(s));
  }
  fuse_write_out out{};
  out.size = in->size;
  Sent(fuse::ReplyStruct(fd_, r.header.unique, out));
}

void BlockFs::Sync(const fuse::Request& r, uint64_t fh) {
  std::shared_ptr<Attachment> a = ByHandle(fh);
  if (!a) return Answer(r.header.unique, EBADF);
  Answer(r.header.unique, a->Flush().ok() ? 0 : EIO);
}

void BlockFs::ReadDir(const fuse::Request& r, std::vector<uint8_t>& reply) {
  const auto* in = r.Arg<fuse_read_in>();
  if (!in || r.header.nodeid != kRootNode) return Answer(r.header.unique, in ? ENOTDIR : EINVAL);
  std::vector<std::pair<std::string, uint64_t>> entries = {{".", kRootNode}, {"..", kRootNode}};
  for (const std::shared_ptr<Attachment>& a : hooks_.list()) {
    entries.emplace_back(a->info().id, a->info().node);
  }
  size_t limit = std::min<size_t>(in->size, reply.size());
  size_t used = 0;
  for (uint64_t i = in->offset; i < entries.size(); ++i) {
    const auto& [name, node] = entries[i];
    size_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name.size());
    if (used + record > limit) break;
    fuse_dirent d{};
    d.ino = node;
    d.off = i + 1;
    d.namelen = static_cast<uint32_t>(name.size());
    d.type = node == kRootNode ? DT_DIR : DT_REG;
    std::memset(reply.data() + used, 0, record);
    std::memcpy(reply.data() + used, &d, FUSE_NAME_OFFSET);
    std::memcpy(reply.data() + used + FUSE_NAME_OFFSET, name.data(), name.size());
    used += record;
  }
  Sent(fuse::Reply(fd_, r.header.unique, 0, {std::span<const uint8_t>(reply.data(), used)}));
}

}  // namespace lode::agent
