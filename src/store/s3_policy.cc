#include "store/s3_policy.h"

namespace lode::store {
namespace {

using nlohmann::json;

json Statement(const std::string& sid, const char* effect, const std::vector<std::string>& who,
               std::vector<std::string> actions, std::vector<std::string> resources) {
  return {{"Sid", sid},
          {"Effect", effect},
          {"Principal", {{"AWS", who}}},
          {"Action", actions},
          {"Resource", resources}};
}

}  // namespace

std::string UserArn(const std::string& user) {
  return user.rfind("arn:", 0) == 0 ? user : "arn:aws:iam:::user/" + user;
}

json RoleBucketPolicy(const std::string& bucket, const std::string& prefix,
                      const RolePrincipals& roles) {
  std::string bucket_arn = "arn:aws:s3:::" + bucket;
  std::string objects = bucket_arn + "/" + prefix;  // + key
  // Tenant data: what only keyd's grants may open.
  std::vector<std::string> sealed = {objects + "*/chunks/*", objects + "*/manifests/*",
                                     objects + "*/profiles/*", objects + "functions/*"};
  json statements = json::array();
  if (!roles.pushers.empty()) {
    statements.push_back(Statement("LodePushersPutAndReadRecords", "Allow", roles.pushers,
                                   {"s3:PutObject", "s3:GetObject"}, {objects + "*"}));
    statements.push_back(Statement("LodePushersListBucket", "Allow", roles.pushers,
                                   {"s3:ListBucket"}, {bucket_arn}));
    statements.push_back(Statement("LodePushersNeverReadSealedData", "Deny", roles.pushers,
                                   {"s3:GetObject"}, sealed));
    statements.push_back(Statement("LodePushersNeverDelete", "Deny", roles.pushers,
                                   {"s3:DeleteObject"}, {objects + "*"}));
  }
  if (!roles.workers.empty()) {
    statements.push_back(
        Statement("LodeWorkersRead", "Allow", roles.workers, {"s3:GetObject"}, {objects + "*"}));
    // Without s3:ListBucket, S3 answers 403 instead of 404 for a missing
    // key, and readers look up objects that may be absent (root records,
    // migrations, profiles).
    statements.push_back(Statement("LodeWorkersTellMissingFromDenied", "Allow", roles.workers,
                                   {"s3:ListBucket"}, {bucket_arn}));
    statements.push_back(Statement("LodeWorkersRecordProfilesAndAlarms", "Allow", roles.workers,
                                   {"s3:PutObject"},
                                   {objects + "*/profiles/*", objects + "gc/alarms/*"}));
    statements.push_back(Statement("LodeWorkersNeverDelete", "Deny", roles.workers,
                                   {"s3:DeleteObject"}, {objects + "*"}));
  }
  if (!roles.gc.empty()) {
    statements.push_back(Statement("LodeGcObjects", "Allow", roles.gc,
                                   {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
                                   {objects + "*"}));
    statements.push_back(
        Statement("LodeGcListBucket", "Allow", roles.gc, {"s3:ListBucket"}, {bucket_arn}));
  }
  return {{"Version", "2012-10-17"}, {"Statement", statements}};
}

}  // namespace lode::store
