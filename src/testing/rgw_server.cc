#include "testing/rgw_server.h"

#include <fstream>
#include <sstream>

#include "testing/ports.h"
#include "testing/process.h"

namespace lode::testing {

RgwServer::RgwServer(const std::string& dir) : dir_(dir), port_(FreeLoopbackPorts(2)) {
  CommandResult r = RunCommand("bash " + Script() + " start " + ShellQuote(dir_) + " " +
                               std::to_string(port_) + " 2>&1");
  if (r.exit_code != 0) {  // one more try on fresh ports: a port can be taken meanwhile
    port_ = FreeLoopbackPorts(2);
    r = RunCommand("bash " + Script() + " start " + ShellQuote(dir_) + " " + std::to_string(port_) +
                   " 2>&1");
  }
  ok_ = r.exit_code == 0;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("AWS_ACCESS_KEY_ID=", 0) == 0) access_ = line.substr(18);
    if (line.rfind("AWS_SECRET_ACCESS_KEY=", 0) == 0) secret_ = line.substr(22);
  }
  ok_ = ok_ && !access_.empty() && !secret_.empty();
  if (!ok_) error_ = "rgw.sh exited " + std::to_string(r.exit_code) + ": " + r.output;
}

RgwServer::~RgwServer() { RunCommand("bash " + Script() + " stop " + ShellQuote(dir_)); }

std::string RgwServer::Script() const {
  return ShellQuote(std::string(LODE_TEST_SOURCE_DIR) + "/scripts/rgw.sh");
}

std::string RgwServer::Env() const {
  return "AWS_ACCESS_KEY_ID=" + access_ + " AWS_SECRET_ACCESS_KEY=" + secret_ + " ";
}

std::string RgwServer::Url(const std::string& prefix) const {
  return "s3://lode/" + prefix + "?endpoint=" + endpoint() + "&region=us-east-1";
}

bool RgwServer::CreateUser(const std::string& name) {
  return RunCommand("bash " + Script() + " user " + ShellQuote(dir_) + " " + ShellQuote(name))
             .exit_code == 0;
}

bool RgwServer::CreateBucket(const std::string& name) {
  return RunCommand("bash " + Script() + " bucket " + ShellQuote(dir_) + " " + ShellQuote(name))
             .exit_code == 0;
}

bool RgwServer::PutBucketPolicy(const std::string& bucket, const std::string& policy_json) {
  std::string file = dir_ + "/policy-" + bucket + ".json";
  std::ofstream(file) << policy_json;
  return RunCommand("bash " + Script() + " policy " + ShellQuote(dir_) + " " + ShellQuote(bucket) +
                    " " + ShellQuote(file))
             .exit_code == 0;
}

void RgwServer::StopEndpoint() { RunCommand("bash " + Script() + " stop-rgw " + ShellQuote(dir_)); }

bool RgwServer::StartEndpoint() {
  return RunCommand("bash " + Script() + " start-rgw " + ShellQuote(dir_)).exit_code == 0;
}

}  // namespace lode::testing
