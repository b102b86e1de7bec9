// Pushing a microVM snapshot: one block file holding the guest's memory,
// its device state and the disk image it runs on, so that a restore
// attaches one manifest and the agent loads all three on demand.
//
//   [0, memory)                  guest memory, as the VMM maps it
//   [packed_offset, +packed)     the memory pages a restore touches, packed
//   [state_offset, +state)       device state, from a chunk boundary
//   [disk_offset, +disk)         the image's chunks, from a chunk boundary
//
// Memory chunks are sealed like image data: never-touched and zero pages
// are holes, and convergent encryption lets snapshots of the same runtime
// share chunks. Pages moved to the packed part read as zeros in place (the
// snapshot's page map sends their reads to the packed part), so a restore
// loads the few chunks they fill instead of every chunk holding one. The disk's entries are the
// image's own (same root, so the same objects): a snapshot never depends on another manifest, and
// gc migrates and expires it like any image.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "push/push.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::push {

// Runs {first page, count} of 4 KiB guest memory pages, in order.
using PageRuns = std::vector<std::pair<uint64_t, uint64_t>>;
constexpr uint64_t kMemoryPageSize = 4096;

struct SnapshotLayout {
  uint64_t memory_bytes = 0;
  uint64_t packed_offset = 0, packed_bytes = 0;
  uint64_t state_offset = 0, state_bytes = 0;
  uint64_t disk_offset = 0, disk_bytes = 0;
  uint64_t total_bytes() const { return disk_offset + disk_bytes; }
};
// Where each part goes for a disk image with manifest `image`.
SnapshotLayout LayOutSnapshot(uint64_t memory_bytes, uint64_t packed_bytes, uint64_t state_bytes,
                              const manifest::Manifest& image);

// The pages of `touched` worth packing: those in chunks of `memory_file`
// that hold data (a page in an all-zero chunk costs a restore nothing).
Result<PageRuns> PackablePages(const std::string& memory_file, uint64_t memory_bytes,
                               uint32_t chunk_size, const PageRuns& touched);

struct SnapshotParts {
  std::string memory_file;  // layout.memory_bytes long (holes read as zeros)
  PageRuns packed_pages;    // of memory_file, filling layout.packed_bytes
  std::string state_file;   // layout.state_bytes long
  store::ImageRef image;    // the disk image, opened as `image_manifest`
  const manifest::Manifest* image_manifest = nullptr;
  SnapshotLayout layout;
  std::string config;  // the manifest's config: what a restore needs to know
};

// Seals and uploads the snapshot into the image's root (which must be
// active) for `options.tenant`, manifest last. Chunk size and compression
// follow the image's manifest and `options`; options.root is ignored.
Result<PushResult> PushSnapshot(const SnapshotParts& parts, const PushOptions& options,
                                keys::KeyService& keys, store::ObjectStore& store);

}  // namespace lode::push
