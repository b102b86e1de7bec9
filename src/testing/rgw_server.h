// A real S3 server for tests: a one-node Ceph cluster with RGW on
// 127.0.0.1 (scripts/rgw.sh), with a user and a bucket. Stopped on
// destruction; the S3 endpoint alone can be stopped and started again.
#pragma once

#include <string>

namespace lode::testing {

class RgwServer {
 public:
  explicit RgwServer(const std::string& dir);
  ~RgwServer();
  RgwServer(const RgwServer&) = delete;
  RgwServer& operator=(const RgwServer&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // "AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... ": a shell prefix.
  std::string Env() const;
  // s3://lode/PREFIX?endpoint=...&region=us-east-1
  std::string Url(const std::string& prefix) const;
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& access_key() const { return access_; }
  const std::string& secret_key() const { return secret_; }
  void StopEndpoint();
  bool StartEndpoint();
  // Another S3 user; its keys are "NAME-access" and "NAME-secret-0123456789".
  bool CreateUser(const std::string& name);
  // A bucket of the first user, and its policy (JSON text).
  bool CreateBucket(const std::string& name);
  bool PutBucketPolicy(const std::string& bucket, const std::string& policy_json);

 private:
  std::string Script() const;
  std::string dir_, access_, secret_, error_;
  int port_ = 0;
  bool ok_ = false;
};

}  // namespace lode::testing
