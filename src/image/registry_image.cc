// Images in registries: resolved through their manifests (and indexes) by
// digest, layers downloaded ahead of the flattener.
//
// The flattener reads layers one at a time, top layer first. Downloads run
// in that order, at most `concurrent_downloads` at once, each into an
// unlinked spool file that the flattener reads while it grows: the top
// layer streams straight through, the ones below it are on disk by the time
// it gets to them. A spool is dropped when the flattener opens a layer below
// it, so local disk holds at most the window of layers being downloaded,
// each once; memory holds only transfer buffers. A layer opened again after
// its spool was dropped is downloaded again.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "image/image_internal.h"
#include "image/registry_client.h"
#include "util/text.h"

namespace lode::image {
namespace {

using nlohmann::json;

Result<UniqueFd> CreateSpoolFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  std::string path = dir + "/lode-layer-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "create a layer spool file in " + dir);
  ::unlink(path.c_str());
  return UniqueFd(fd);
}

std::string SpoolDir(const RegistryOptions& options) {
  if (!options.spool_dir.empty()) return options.spool_dir;
  std::string tmp = GetEnv("TMPDIR");
  return tmp.empty() ? "/var/tmp" : tmp;
}

// One layer blob being downloaded into a spool file.
class Download {
 public:
  Download(std::shared_ptr<RegistryClient> client, Descriptor blob, UniqueFd spool,
           std::shared_ptr<std::atomic<uint64_t>> counter)
      : client_(std::move(client)),
        blob_(std::move(blob)),
        spool_(std::move(spool)),
        counter_(std::move(counter)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Download() {
    cancel_ = true;
    thread_.join();
  }

  // Copies bytes from `position` into `out`, waiting for them to arrive.
  // 0 at the end of the blob; the download's error once it has failed.
  Result<size_t> ReadAt(uint64_t position, std::span<uint8_t> out) {
    uint64_t available;
    {
      std::unique_lock lock(mu_);
      arrived_.wait(lock, [&] { return written_ > position || done_; });
      if (written_ <= position) {
        if (!status_.ok()) return status_;
        return size_t{0};
      }
      available = written_ - position;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(available, out.size()));
    LODE_RETURN_IF_ERROR(PReadAll(spool_.get(), out.first(n), position, "layer spool file"));
    return n;
  }

 private:
  void Run() {
    Status sink_error;
    uint64_t written = 0;  // this thread's copy of written_
    Status s = client_->StreamBlob(blob_.digest, 0, [&](std::span<const uint8_t> bytes) {
      if (cancel_) return false;
      if (written + bytes.size() > blob_.size) {
        sink_error = Status::Corruption("blob " + blob_.digest.ToString() +
                                        " is larger than its descriptor's size " +
                                        std::to_string(blob_.size));
        return false;
      }
      sink_error = PWriteAll(spool_.get(), bytes, written, "layer spool file");
      if (!sink_error.ok()) return false;
      written += bytes.size();
      counter_->fetch_add(bytes.size(), std::memory_order_relaxed);
      std::lock_guard lock(mu_);
      written_ = written;
      arrived_.notify_all();
      return true;
    });
    std::lock_guard lock(mu_);
    status_ = sink_error.ok() ? s : sink_error;
    done_ = true;
    arrived_.notify_all();
  }

  std::shared_ptr<RegistryClient> client_;
  Descriptor blob_;
  UniqueFd spool_;
  std::shared_ptr<std::atomic<uint64_t>> counter_;
  std::atomic<bool> cancel_ = false;
  std::mutex mu_;
  std::condition_variable arrived_;
  uint64_t written_ = 0;  // guarded by mu_
  bool done_ = false;     // guarded by mu_
  Status status_;         // guarded by mu_
  std::thread thread_;    // last: starts once the members above exist
};

class SpoolReader : public ByteSource {
 public:
  explicit SpoolReader(std::shared_ptr<Download> download) : download_(std::move(download)) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    LODE_ASSIGN_OR_RETURN(size_t n, download_->ReadAt(position_, out));
    position_ += n;
    return n;
  }

 private:
  std::shared_ptr<Download> download_;
  uint64_t position_ = 0;
};

// The layers of one image, in the order the flattener reads them.
class LayerDownloads {
 public:
  LayerDownloads(std::shared_ptr<RegistryClient> client, std::vector<Descriptor> layers,
                 const RegistryOptions& options)
      : client_(std::move(client)),
        layers_(std::move(layers)),
        slots_(layers_.size()),
        window_(std::max(1, options.concurrent_downloads)),
        spool_dir_(SpoolDir(options)) {}

  // Layer `index` counts from the base, as in the manifest.
  Result<std::unique_ptr<ByteSource>> Open(size_t index) {
    std::lock_guard lock(mu_);
    size_t position = layers_.size() - 1 - index;
    for (size_t above = 0; above < position; ++above) slots_[above].reset();
    LODE_RETURN_IF_ERROR(StartWindow(position));
    return std::unique_ptr<ByteSource>(std::make_unique<SpoolReader>(slots_[position]));
  }

  Status Start() {
    std::lock_guard lock(mu_);
    return StartWindow(0);
  }

  uint64_t bytes_downloaded() const { return counter_->load(std::memory_order_relaxed); }

 private:
  // Starts the downloads of positions [position, position + window).
  Status StartWindow(size_t position) {
    for (size_t p = position; p < std::min(slots_.size(), position + window_); ++p) {
      if (slots_[p]) continue;
      LODE_ASSIGN_OR_RETURN(UniqueFd spool, CreateSpoolFile(spool_dir_));
      slots_[p] = std::make_shared<Download>(client_, layers_[layers_.size() - 1 - p],
                                             std::move(spool), counter_);
    }
    return Status::Ok();
  }

  std::shared_ptr<RegistryClient> client_;
  std::vector<Descriptor> layers_;  // base first
  std::mutex mu_;
  std::vector<std::shared_ptr<Download>> slots_;  // by reading position (top first)
  size_t window_;
  std::string spool_dir_;
  std::shared_ptr<std::atomic<uint64_t>> counter_ = std::make_shared<std::atomic<uint64_t>>(0);
};

class RegistrySource : public ImageSource {
 public:
  RegistrySource(RegistryReference ref, OpenOptions options, std::shared_ptr<RegistryClient> client)
      : ref_(std::move(ref)), options_(std::move(options)), client_(std::move(client)) {}

  Status Resolve() {
    LODE_ASSIGN_OR_RETURN(manifest_, client_->GetManifest(ref_.ManifestReference()));
    for (int depth = 0; IsIndexMediaType(manifest_.media_type); ++depth) {
      if (depth > 4) return Status::Corruption(Describe() + ": indexes nested too deeply");
      if (!index_digest_) index_digest_ = manifest_.digest;
      std::string name = Describe() + ": index " + manifest_.digest.ToString();
      LODE_ASSIGN_OR_RETURN(Descriptor chosen,
                            ParseJson<Descriptor>(manifest_.bytes, name, [&](const json& index) {
                              return SelectFromIndex(index, name, options_, false);
                            }));
      LODE_ASSIGN_OR_RETURN(manifest_, client_->GetManifest(chosen.digest.ToString()));
      if (manifest_.bytes.size() != chosen.size) {
        return Status::Corruption(name + ": manifest " + chosen.digest.ToString() +
                                  " does not have the size the index gives");
      }
    }
    if (manifest_.media_type != kOciManifest && manifest_.media_type != kDockerManifest) {
      return Status::InvalidArgument(Describe() + ": unsupported manifest type '" +
                                     manifest_.media_type + "'");
    }
    return Status::Ok();
  }

  std::string Describe() const override { return ref_.ToString(); }
  std::optional<Digest> manifest_digest() const override { return manifest_.digest; }
  std::optional<Digest> index_digest() const override { return index_digest_; }
  bool remote() const override { return true; }

  Result<Image> Open() override {
    std::string mname = Describe() + ": manifest " + manifest_.digest.ToString();
    LODE_ASSIGN_OR_RETURN(ImageManifest manifest, ParseImageManifest(manifest_.bytes, mname));
    std::string cname = "config " + manifest.config.digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string config, client_->GetSmallBlob(manifest.config.digest,
                                                                    manifest.config.size, cname));
    auto downloads = std::make_shared<LayerDownloads>(client_, manifest.layers, options_.registry);
    LODE_ASSIGN_OR_RETURN(Image img, AssembleImage(manifest, config, [&](size_t i, auto&) {
                            return [downloads, i] { return downloads->Open(i); };
                          }));
    LODE_RETURN_IF_ERROR(downloads->Start());
    img.bytes_downloaded = [downloads] { return downloads->bytes_downloaded(); };
    return img;
  }

 private:
  RegistryReference ref_;
  OpenOptions options_;
  std::shared_ptr<RegistryClient> client_;
  FetchedManifest manifest_;
  std::optional<Digest> index_digest_;
};

}  // namespace

Result<std::unique_ptr<ImageSource>> ResolveRegistryImage(const RegistryReference& ref,
                                                          const OpenOptions& options) {
  LODE_ASSIGN_OR_RETURN(std::shared_ptr<RegistryClient> client,
                        RegistryClient::Connect(ref, options.registry));
  auto source = std::make_unique<RegistrySource>(ref, options, std::move(client));
  LODE_RETURN_IF_ERROR(source->Resolve());
  return std::unique_ptr<ImageSource>(std::move(source));
}

}  // namespace lode::image
