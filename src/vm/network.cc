#include "vm/network.h"

#include <arpa/inet.h>

#include <charconv>
#include <vector>

#include "vm/run_spec.h"

namespace lode::vm {
namespace {

bool ParsePort(std::string_view text, uint16_t& port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

Result<PublishedPort> ParsePublishedPort(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("-p " + text + ": " + why + " (want [ADDRESS:]HOST:GUEST)");
  };
  PublishedPort p;
  size_t last = text.rfind(':');
  if (last == std::string::npos) return bad("no guest port");
  size_t first = text.rfind(':', last - 1);
  std::string host_port = text.substr(first == std::string::npos ? 0 : first + 1,
                                      last - (first == std::string::npos ? 0 : first + 1));
  if (last == 0 || !ParsePort(host_port, p.host_port)) return bad("bad host port");
  if (!ParsePort(std::string_view(text).substr(last + 1), p.guest_port)) {
    return bad("bad guest port");
  }
  if (first != std::string::npos) {
    p.host_address = text.substr(0, first);
    in_addr a{};
    if (::inet_pton(AF_INET, p.host_address.c_str(), &a) != 1) return bad("bad IPv4 address");
  }
  return p;
}

std::string UserNetdev(const std::string& id, const std::vector<PublishedPort>& ports,
                       bool signature) {
  std::string netdev = "user,id=" + id + ",net=" + kUserNetworkPrefix;
  if (signature) return netdev;
  for (const PublishedPort& p : ports) {
    netdev += ",hostfwd=tcp:" + p.host_address + ":" + std::to_string(p.host_port) +
              "-:" + std::to_string(p.guest_port);
  }
  return netdev;
}

}  // namespace lode::vm
