// A ListObjectsV2 page as an S3 server answers it (store/s3_store.h), read
// with and without a key prefix.
#include <cstdint>
#include <string>

#include "store/s3_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string xml(reinterpret_cast<const char*>(data), size);
  (void)lode::store::ParseListPage(xml, "");
  (void)lode::store::ParseListPage(xml, "prefix/");
  return 0;
}
