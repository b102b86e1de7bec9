#include "cache/disk_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "util/file.h"

namespace lode::cache {
namespace {

namespace fs = std::filesystem;
// Keys evicted long ago are forgotten; this many are remembered per resident
// chunk the budget can hold (at 512 KiB chunks).
constexpr uint64_t kHistoryPerChunk = 2;
constexpr uint64_t kTypicalChunk = 512 << 10;

}  // namespace

bool IsChunkName(const std::string& name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

DiskCache::DiskCache(std::string dir, uint64_t budget)
    : dir_(std::move(dir)),
      budget_(budget),
      policy_(2, static_cast<size_t>(kHistoryPerChunk * (budget / kTypicalChunk + 1))) {}

Result<std::unique_ptr<DiskCache>> DiskCache::Open(const std::string& dir, uint64_t budget_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("create cache directory " + dir + ": " + ec.message());
  std::unique_ptr<DiskCache> cache(new DiskCache(dir, budget_bytes));
  LODE_RETURN_IF_ERROR(cache->Index());
  return cache;
}

Status DiskCache::Index() {
  struct Found {
    std::string name;
    uint64_t size;
    fs::file_time_type mtime;
  };
  std::vector<Found> found;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      fs::remove(it->path(), ec);  // a put a crash interrupted
      ec.clear();
      continue;
    }
    if (!IsChunkName(name) || !it->is_regular_file()) continue;
    found.push_back({name, it->file_size(), it->last_write_time()});
  }
  if (ec) return Status::IOError("index cache directory " + dir_ + ": " + ec.message());
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  std::lock_guard lock(mu_);
  for (const Found& f : found) {
    MakeRoom(f.size);
    sizes_[f.name] = f.size;
    bytes_ += f.size;
    policy_.Access(f.name);
  }
  return Status::Ok();
}

Result<std::optional<std::vector<uint8_t>>> DiskCache::Get(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (!sizes_.count(name)) return std::optional<std::vector<uint8_t>>();
    policy_.Access(name);
  }
  Result<std::vector<uint8_t>> bytes = ReadFileToBytes(PathOf(name));
  if (!bytes.ok()) {
    // Evicted between the lookup and the read: a miss.
    if (bytes.status().code() == StatusCode::kNotFound)
      return std::optional<std::vector<uint8_t>>();
    return bytes.status();
  }
  return std::optional<std::vector<uint8_t>>(std::move(*bytes));
}

Status DiskCache::Put(const std::string& name, std::span<const uint8_t> bytes) {
  if (!IsChunkName(name)) return Status::InvalidArgument("bad chunk name '" + name + "'");
  if (bytes.size() > budget_) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    if (sizes_.count(name)) return Status::Ok();
  }
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(PathOf(name)));
  LODE_RETURN_IF_ERROR(PWriteAll(file.fd(), bytes, 0, file.temp_path()));
  std::lock_guard lock(mu_);
  if (sizes_.count(name)) return Status::Ok();  // another thread put it first
  MakeRoom(bytes.size());
  LODE_RETURN_IF_ERROR(file.Commit(AtomicFile::Durability::kUnsynced));
  sizes_[name] = bytes.size();
  bytes_ += bytes.size();
  policy_.Access(name);
  return Status::Ok();
}

void DiskCache::Remove(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = sizes_.find(name);
  if (it == sizes_.end()) return;
  bytes_ -= it->second;
  sizes_.erase(it);
  policy_.Forget(name);
  ::unlink(PathOf(name).c_str());
}

void DiskCache::MakeRoom(uint64_t incoming) {
  while (bytes_ + incoming > budget_) {
    std::optional<std::string> victim = policy_.Victim();
    if (!victim) return;
    policy_.Evict(*victim);
    auto it = sizes_.find(*victim);
    bytes_ -= it->second;
    sizes_.erase(it);
    ::unlink(PathOf(*victim).c_str());
    ++evictions_;
  }
}

DiskCacheStats DiskCache::stats() const {
  std::lock_guard lock(mu_);
  return {sizes_.size(), bytes_, budget_, evictions_};
}

}  // namespace lode::cache
