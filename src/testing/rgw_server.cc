#include "testing/rgw_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "testing/process.h"

namespace lode::testing {
namespace {

// Two consecutive free ports (RGW, then the monitor).
int FreePortPair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    int port = ntohs(addr.sin_port);
    int next = ::socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_port = htons(static_cast<uint16_t>(port + 1));
    bool free = ::bind(next, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(next);
    if (free && port < 65000) return port;
  }
  return 17480;
}

}  // namespace

RgwServer::RgwServer(const std::string& dir) : dir_(dir), port_(FreePortPair()) {
  CommandResult r = RunCommand("bash " + Script() + " start " + ShellQuote(dir_) + " " +
                               std::to_string(port_) + " 2>&1");
  if (r.exit_code != 0) {  // one more try on fresh ports: a port can be taken meanwhile
    port_ = FreePortPair();
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

void RgwServer::StopEndpoint() { RunCommand("bash " + Script() + " stop-rgw " + ShellQuote(dir_)); }

bool RgwServer::StartEndpoint() {
  return RunCommand("bash " + Script() + " start-rgw " + ShellQuote(dir_)).exit_code == 0;
}

}  // namespace lode::testing
