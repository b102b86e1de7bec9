#include "image/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

namespace lode::image {

TarReader::TarReader(ByteSource* source, std::string name)
    : source_(source), name_(std::move(name)), buffer_(256 * 1024) {}

TarReader::~TarReader() {
  if (archive_ != nullptr) archive_read_free(archive_);
}

Result<std::unique_ptr<TarReader>> TarReader::Open(ByteSource* source, std::string name) {
  std::unique_ptr<TarReader> r(new TarReader(source, std::move(name)));
  r->archive_ = archive_read_new();
  archive_read_support_format_tar(r->archive_);
  archive_read_set_read_callback(r->archive_, &TarReader::ReadCallback);
  archive_read_set_skip_callback(r->archive_, &TarReader::SkipCallback);
  archive_read_set_callback_data(r->archive_, r.get());
  if (archive_read_open1(r->archive_) != ARCHIVE_OK) return r->Error("not a tar archive");
  return r;
}

long TarReader::ReadCallback(struct archive* a, void* self, const void** buffer) {
  auto* r = static_cast<TarReader*>(self);
  if (!r->source_error_.ok()) return -1;  // a failed skip (see SkipCallback)
  Result<std::span<const uint8_t>> view = r->source_->ReadView(r->buffer_);
  if (!view.ok()) {
    r->source_error_ = view.status();
    archive_set_error(a, EIO, "%s", view.status().message().c_str());
    return -1;
  }
  *buffer = view->data();
  return static_cast<long>(view->size());
}

int64_t TarReader::SkipCallback(struct archive* a, void* self, int64_t request) {
  auto* r = static_cast<TarReader*>(self);
  // Never negative: libarchive 3.6 adds a negative result to what is left to
  // skip and asks again, forever. Skipping nothing makes it read instead,
  // and the read reports the error.
  if (!r->source_error_.ok()) return 0;
  Result<uint64_t> n = r->source_->Skip(static_cast<uint64_t>(request));
  if (!n.ok()) {
    r->source_error_ = n.status();
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return 0;
  }
  return static_cast<int64_t>(*n);
}

Status TarReader::Error(const std::string& what) const {
  // A failure of the underlying stream (digest, decompression) explains more
  // than libarchive's view of it.
  if (!source_error_.ok()) return source_error_;
  const char* detail = archive_error_string(archive_);
  return Status::Corruption(name_ + ": " + what + (detail ? std::string(": ") + detail : ""));
}

namespace {

Result<EntryType> TypeOf(archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) return EntryType::kHardlink;
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return EntryType::kFile;
    case AE_IFDIR:
      return EntryType::kDirectory;
    case AE_IFLNK:
      return EntryType::kSymlink;
    case AE_IFCHR:
      return EntryType::kCharDevice;
    case AE_IFBLK:
      return EntryType::kBlockDevice;
    case AE_IFIFO:
      return EntryType::kFifo;
    default:
      return Status::Corruption("unsupported entry type");
  }
}

void CopyXattrs(archive_entry* e, TarEntry* out) {
  out->xattrs.clear();
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    out->xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
}

}  // namespace

Result<bool> TarReader::Next(TarEntry* entry) {
  archive_entry* e = nullptr;
  int rc = archive_read_next_header(archive_, &e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) return Error("bad tar header");
  const char* path = archive_entry_pathname(e);
  if (path == nullptr) return Error("entry without a path");
  entry->path = path;
  Result<EntryType> type = TypeOf(e);
  if (!type.ok())
    return Status::Corruption(name_ + ": " + entry->path + ": unsupported entry type");
  entry->type = *type;
  entry->mode = archive_entry_perm(e) & 07777;
  entry->uid = static_cast<uint32_t>(archive_entry_uid(e));
  entry->gid = static_cast<uint32_t>(archive_entry_gid(e));
  entry->mtime = {archive_entry_mtime(e), static_cast<uint32_t>(archive_entry_mtime_nsec(e))};
  entry->atime.reset();
  entry->ctime.reset();
  if (archive_entry_atime_is_set(e)) {
    entry->atime =
        Timestamp{archive_entry_atime(e), static_cast<uint32_t>(archive_entry_atime_nsec(e))};
  }
  if (archive_entry_ctime_is_set(e)) {
    entry->ctime =
        Timestamp{archive_entry_ctime(e), static_cast<uint32_t>(archive_entry_ctime_nsec(e))};
  }
  entry->size = entry->type == EntryType::kFile ? static_cast<uint64_t>(archive_entry_size(e)) : 0;
  entry->link_target.clear();
  if (entry->type == EntryType::kHardlink) entry->link_target = archive_entry_hardlink(e);
  if (entry->type == EntryType::kSymlink) {
    const char* target = archive_entry_symlink(e);
    entry->link_target = target ? target : "";
  }
  entry->dev_major = archive_entry_rdevmajor(e);
  entry->dev_minor = archive_entry_rdevminor(e);
  CopyXattrs(e, entry);
  return true;
}

Result<bool> TarReader::ReadBlock(uint64_t* offset, std::span<const uint8_t>* bytes) {
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t off = 0;
  int rc = archive_read_data_block(archive_, &buf, &size, &off);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) return Error("truncated or corrupt file data");
  *offset = static_cast<uint64_t>(off);
  *bytes = std::span(static_cast<const uint8_t*>(buf), size);
  return true;
}

}  // namespace lode::image
