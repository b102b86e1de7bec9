// The flattener's rule-coverage image: three layers exercising every layer
// rule and file type lode promises to keep (see rules_image.cc for the list).
#pragma once

#include <cstdint>

#include "testing/layer_builder.h"

namespace lode::testing {

struct RulesImageOptions {
  uint32_t wide_entries = 12000;      // files in /wide (hashed directory)
  uint64_t sparse_size = 5ull << 30;  // logical size of /data/sparse-5g
};

ImageSpec BuildRulesImage(const RulesImageOptions& options = {});

}  // namespace lode::testing
