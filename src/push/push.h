// lode push: flatten an image straight into the store. The flattener's
// output is cut into chunks as it streams (the full image never sits on
// disk); each chunk that is not all zeros is sealed (chunk/convergent.h) and
// uploaded unless the store already has it, on a pool of threads with a
// bounded number of chunks in flight. The manifest is sealed to the tenant's
// public key and written last, after every chunk it names is durable: a
// push that dies midway leaves no manifest, and a rerun uploads only what is
// missing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "flatten/flatten.h"
#include "image/image.h"
#include "keys/key_service.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "store/roots.h"
#include "util/status.h"

namespace lode::push {

struct PushOptions {
  std::string tenant;
  std::string root;  // an active root; empty: the newest active root (store/roots.h)
  std::string salt_domain =
      "default";  // salt policy: placement domain (epoch: the key service's current)
  uint32_t chunk_size = 512 * 1024;  // a power of two, >= 4096
  bool compress = true;              // zstd before encryption
  int threads = 0;                   // sealing threads; 0: one per core
  flatten::FlattenOptions flatten;   // layer_alignment is set to chunk_size
};

struct PushResult {
  store::ImageRef ref;
  uint64_t image_bytes = 0;
  uint64_t chunks_total = 0;
  uint64_t chunks_holes = 0;     // all-zero chunks: not stored
  uint64_t chunks_existing = 0;  // already in the store (or earlier in this push)
  uint64_t chunks_new = 0;
  uint64_t bytes_uploaded = 0;
  bool reused = false;   // an earlier push of the same source (FindEarlierPush)
  std::string chain_id;  // of the layers' diff_ids (catalog/chains.h); "" if unknown
};

// Needs only the tenant's public key from `keys` (and the salt).
Result<PushResult> Push(const image::Image& image, const PushOptions& options,
                        keys::KeyService& keys, store::ObjectStore& store,
                        const flatten::ProgressFn& progress = nullptr);

// Pushes of registry images are remembered per (tenant key, root, source
// manifest digest, options that shape the output): the same source pushed
// again with the same options into the same root makes the same image, so
// its earlier reference can be returned without reading a layer. The record
// (docs/formats/store-layout.md) is named and authenticated with an HMAC
// under the root's salt: store readers without the salt can neither tell
// which images a tenant pulled nor forge a record.
//
// The earlier push of `source` whose manifest is still in the store, if any.
Result<std::optional<PushResult>> FindEarlierPush(const image::Digest& source,
                                                  const PushOptions& options,
                                                  keys::KeyService& keys,
                                                  store::ObjectStore& store);
// Records `result` as the push of `source` (after its manifest is durable).
Status RecordPush(const image::Digest& source, const PushOptions& options, const PushResult& result,
                  keys::KeyService& keys, store::ObjectStore& store);

}  // namespace lode::push
