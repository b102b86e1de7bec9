// The s3:// backend, behind ObjectStore (object_store.h):
//   s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&profile=NAME
// Path-style requests signed with SigV4 by libcurl; credentials of the
// profile NAME in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
// or ~/.aws/credentials) when the URL names one (each role its own), else
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the
// file's profile AWS_PROFILE or "default"; never from the URL itself, never
// logged.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/object_store.h"

namespace lode::store {

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url);

// The bucket and key prefix ("" or ending in '/') of an s3:// URL.
struct S3Location {
  std::string bucket, prefix;
  std::map<std::string, std::string> params;
};
Result<S3Location> ParseS3Url(const std::string& url);

// One page of a ListObjectsV2 answer: the objects whose keys start with
// `key_prefix` (the prefix removed; others are skipped) and the token of the
// next page ("" on the last). A malformed page is IOError.
struct ListPage {
  std::vector<ObjectInfo> objects;
  std::string next_token;
};
Result<ListPage> ParseListPage(const std::string& xml, const std::string& key_prefix);

}  // namespace lode::store
