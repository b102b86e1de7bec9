// The S3 bucket policy that gives each of lode's roles the least it needs
// on s3://BUCKET/PREFIX (docs/design.md, "Trust model"): pushers put and
// list, and read only what a push consults (root records, push records,
// tags), never chunks, manifests, profiles or functions, and delete
// nothing; workers read and list (S3 tells a missing key from a denied one
// only to callers that may list), and put only startup profiles and read
// alarms; gc lists, reads, puts and deletes. Deny statements, since on S3 servers
// such as Ceph RGW an uploader owns its objects and may otherwise read
// them back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lode::store {

struct RolePrincipals {
  // Principals as S3 names them: "arn:aws:iam:::user/NAME" (or an IAM ARN).
  std::vector<std::string> pushers, workers, gc;
};

// `user` as a principal ARN: kept when it already is one.
std::string UserArn(const std::string& user);

nlohmann::json RoleBucketPolicy(const std::string& bucket, const std::string& prefix,
                                const RolePrincipals& roles);

}  // namespace lode::store
