// The s3:// backend, behind ObjectStore (object_store.h):
//   s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION
// Path-style requests signed with SigV4 by libcurl; credentials from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
// profile AWS_PROFILE or "default"); never from the URL, never logged.
#pragma once

#include <memory>
#include <string>

#include "store/object_store.h"

namespace lode::store {

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url);

}  // namespace lode::store
