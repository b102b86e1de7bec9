// The s3:// backend, behind ObjectStore (object_store.h):
//   s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION
// Path-style requests signed with SigV4 by libcurl; credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
// profile AWS_PROFILE or "default"); never from the URL, never logged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/object_store.h"

namespace lode::store {

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url);

// One page of a ListObjectsV2 answer: the objects whose keys start with
// `key_prefix` (the prefix removed; others are skipped) and the token of the
// next page ("" on the last). A malformed page is IOError.
struct ListPage {
  std::vector<ObjectInfo> objects;
  std::string next_token;
};
Result<ListPage> ParseListPage(const std::string& xml, const std::string& key_prefix);

}  // namespace lode::store
