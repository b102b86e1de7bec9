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

size_t DiskCache::HistoryLimit(uint64_t budget_bytes) {
  return static_cast<size_t>(kHistoryPerChunk * (budget_bytes / kTypicalChunk + 1));
}

DiskCache::DiskCache(std::string dir, uint64_t budget)
    : dir_(std::move(dir)), residency_(budget, 2, HistoryLimit(budget)) {}

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
    if (!Admit(f.name, f.size)) ::unlink(PathOf(f.name).c_str());  // larger than the budget
  }
  return Status::Ok();
}

Result<std::optional<std::vector<uint8_t>>> DiskCache::Get(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (!residency_.Touch(name)) return std::optional<std::vector<uint8_t>>();
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
  {
    std::lock_guard lock(mu_);
    if (bytes.size() > residency_.budget() || residency_.Contains(name)) return Status::Ok();
  }
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(PathOf(name)));
  LODE_RETURN_IF_ERROR(PWriteAll(file.fd(), bytes, 0, file.temp_path()));
  std::lock_guard lock(mu_);
  if (!Admit(name, bytes.size())) return Status::Ok();  // another thread put it first
  Status committed = file.Commit(AtomicFile::Durability::kUnsynced);
  if (!committed.ok()) residency_.Erase(name);
  return committed;
}

void DiskCache::Remove(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!residency_.Contains(name)) return;
  residency_.Erase(name);
  ::unlink(PathOf(name).c_str());
}

bool DiskCache::Admit(const std::string& name, uint64_t bytes) {
  return residency_.Insert(name, bytes, [this](const std::string& victim, uint64_t) {
    ::unlink(PathOf(victim).c_str());
  });
}

DiskCacheStats DiskCache::stats() const {
  std::lock_guard lock(mu_);
  return {residency_.entries(), residency_.bytes(), residency_.budget(), residency_.evictions()};
}

}  // namespace lode::cache
