// A real image for tests and benchmarks: a Debian rootfs tarball (made by
// mmdebstrap) as the base layer, plus two layers that delete and replace
// files of it the way application images do.
#pragma once

#include <string>

#include "testing/layer_builder.h"

namespace lode::testing {

ImageSpec BuildDebianImage(const std::string& rootfs_tar);

}  // namespace lode::testing
