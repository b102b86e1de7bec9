#include "push/chunk_uploader.h"

#include "store/layout.h"

namespace lode::push {

ChunkUploader::ChunkUploader(store::ObjectStore& store, std::string root, const chunk::Salt& salt,
                             bool compress, int threads)
    : store_(store),
      root_(std::move(root)),
      salt_(salt),
      compress_(compress),
      max_in_flight_(static_cast<size_t>(threads) * 2) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

ChunkUploader::~ChunkUploader() { (void)Finish(); }

Status ChunkUploader::Submit(std::vector<uint8_t> plaintext, Done done) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ < max_in_flight_ || !error_.ok(); });
  if (!error_.ok()) return error_;
  ++in_flight_;
  jobs_.push_back({std::move(plaintext), std::move(done)});
  cv_.notify_all();
  return Status::Ok();
}

Status ChunkUploader::Finish() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    stopping_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  return error_;
}

UploadStats ChunkUploader::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void ChunkUploader::Work() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    manifest::ChunkEntry entry;
    Status s = error_.ok() ? Upload(job.plaintext, &entry) : Status::Ok();
    if (s.ok()) job.done(entry);
    lock.lock();
    if (!s.ok() && error_.ok()) error_ = s;
    --in_flight_;
    cv_.notify_all();
  }
}

// Runs without the lock except to consult and update the dedup set.
Status ChunkUploader::Upload(const std::vector<uint8_t>& plaintext, manifest::ChunkEntry* entry) {
  chunk::SealedChunk sealed = chunk::Seal(plaintext, salt_, {.compress = compress_});
  entry->name = sealed.name;
  entry->key = sealed.key;
  entry->stored_length = static_cast<uint32_t>(sealed.stored.size());
  entry->flags = sealed.compressed ? uint32_t{manifest::kCompressed} : 0u;
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(sealed.name).second) {
      ++stats_.existing;
      return Status::Ok();
    }
  }
  std::string key = store::ChunkKey(root_, chunk::NameHex(sealed.name));
  LODE_ASSIGN_OR_RETURN(bool exists, store_.Exists(key));
  if (!exists) LODE_RETURN_IF_ERROR(store_.Put(key, sealed.stored));
  std::lock_guard lock(mu_);
  if (exists) {
    ++stats_.existing;
  } else {
    ++stats_.uploaded;
    stats_.bytes_uploaded += sealed.stored.size();
  }
  return Status::Ok();
}

}  // namespace lode::push
