// A large synthetic image for benchmarks: many small files (and a few large
// ones) of compressible, non-repeating content across three layers.
#pragma once

#include <cstdint>

#include "testing/layer_builder.h"

namespace lode::testing {

struct LargeImageOptions {
  uint64_t total_bytes = 2200ull << 20;  // file content, all layers
  uint32_t seed = 1;
};

ImageSpec BuildLargeImage(const LargeImageOptions& options);

}  // namespace lode::testing
