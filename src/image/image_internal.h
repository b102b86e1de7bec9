// Helpers shared by the image input formats; not part of the public header.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "image/image.h"

namespace lode::image {

struct ParsedConfig {
  RunConfig run;
  std::vector<Digest> diff_ids;
};

Result<Compression> CompressionOfMediaType(const std::string& media_type);
Result<ParsedConfig> ParseImageConfig(const std::string& text, const std::string& name);
// Sets each layer's expected diff_id; a count mismatch is Corruption.
Status AttachDiffIds(const std::vector<Digest>& diff_ids, const std::string& name,
                     std::vector<Layer>* layers);

Result<Image> OpenOciLayout(const std::string& dir, const OpenOptions& options);
Result<Image> OpenDockerArchive(const std::string& path);

// Parses `text` and runs `body` on it; malformed JSON or a missing or mistyped
// field becomes one Corruption line naming `name`.
template <typename T, typename F>
Result<T> ParseJson(const std::string& text, const std::string& name, F body) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Corruption(name + ": broken JSON");
  try {
    return body(doc);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(name + ": unexpected JSON: " + e.what());
  }
}

}  // namespace lode::image
