// lode bucket-policy: the S3 bucket policy of lode's roles for an s3://
// store, to apply as the bucket's owner (aws s3api put-bucket-policy, or
// any S3 client).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "store/s3_policy.h"
#include "store/s3_store.h"

namespace lode::cli {

void RegisterBucketPolicy(CLI::App& app) {
  struct Args {
    std::string url;
    std::vector<std::string> pushers, workers, gc;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "bucket-policy",
      "Print the S3 bucket policy of lode's roles: pushers put and list, workers read, gc "
      "maintains");
  cmd->add_option("--store", a->url, "the s3:// store")->required();
  cmd->add_option("--pusher", a->pushers, "S3 user (or principal ARN) of pushers (repeatable)");
  cmd->add_option("--worker", a->workers, "S3 user (or principal ARN) of workers (repeatable)");
  cmd->add_option("--gc", a->gc, "S3 user (or principal ARN) of gc (repeatable)");
  cmd->callback([a] {
    store::S3Location where = Check(store::ParseS3Url(a->url));
    store::RolePrincipals roles;
    for (const auto& [from, to] : {std::pair{&a->pushers, &roles.pushers},
                                   {&a->workers, &roles.workers},
                                   {&a->gc, &roles.gc}}) {
      for (const std::string& user : *from) to->push_back(store::UserArn(user));
    }
    if (roles.pushers.empty() && roles.workers.empty() && roles.gc.empty()) {
      Check(Status::InvalidArgument("name at least one --pusher, --worker or --gc"));
    }
    std::printf("%s\n", store::RoleBucketPolicy(where.bucket, where.prefix, roles).dump(2).c_str());
  });
}

}  // namespace lode::cli
