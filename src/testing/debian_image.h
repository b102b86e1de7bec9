// A real image for tests and benchmarks: a Debian rootfs tarball (made by
// mmdebstrap) as the base layer, plus two layers that delete and replace
// files of it the way application images do.
#pragma once

#include <string>

#include "testing/layer_builder.h"

namespace lode::testing {

// `version` 1 is the image above; 2 adds a dependencies layer on top of it;
// 3 changes that layer (an updated dependency) and the app's configuration:
// successive releases of one application, for dedup measurements.
ImageSpec BuildDebianImage(const std::string& rootfs_tar, int version = 1);

// The rootfs tarball, built once by scripts/debian-rootfs.sh (shared with the
// demo and the benchmarks) into the test cache and reused afterwards; empty
// when building it failed.
std::string CachedDebianRootfs();

// Writes `spec` as an OCI layout in DIR/oci, creates tenant acme and pushes
// the image as its tag "deb" (with `env`, the LODE_KEYS/LODE_STORE prefix of
// commands), and flattens it to DIR/deb.ext4, the oracle of a pushed copy.
void PublishTestImage(const std::string& env, const std::string& dir, const ImageSpec& spec);

}  // namespace lode::testing
