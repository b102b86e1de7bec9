#include "push/chunk_uploader.h"

#include "catalog/catalog.h"

namespace lode::push {

ChunkUploader::ChunkUploader(store::ObjectStore& store, std::string root, const chunk::Salt& salt,
                             bool compress, int threads)
    : store_(store),
      root_(std::move(root)),
      salt_(salt),
      compress_(compress),
      queue_(threads, static_cast<size_t>(threads) * 2) {}

Status ChunkUploader::Submit(std::vector<uint8_t> plaintext, Done done) {
  return queue_.Submit([this, plaintext = std::move(plaintext), done = std::move(done)] {
    manifest::ChunkEntry entry;
    LODE_RETURN_IF_ERROR(Upload(plaintext, &entry));
    done(entry);
    return Status::Ok();
  });
}

Status ChunkUploader::Finish() { return queue_.Finish(); }

UploadStats ChunkUploader::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// Runs without the lock except to consult and update the dedup set.
Status ChunkUploader::Upload(const std::vector<uint8_t>& plaintext, manifest::ChunkEntry* entry) {
  chunk::SealedChunk sealed = chunk::Seal(plaintext, salt_, {.compress = compress_});
  *entry = manifest::ChunkEntry::Of(sealed);
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(sealed.name).second) {
      ++stats_.existing;
      return Status::Ok();
    }
  }
  LODE_ASSIGN_OR_RETURN(bool uploaded, catalog::PutChunkIfAbsent(store_, root_, sealed));
  std::lock_guard lock(mu_);
  if (!uploaded) {
    ++stats_.existing;
  } else {
    ++stats_.uploaded;
    stats_.bytes_uploaded += sealed.stored.size();
  }
  return Status::Ok();
}

}  // namespace lode::push
