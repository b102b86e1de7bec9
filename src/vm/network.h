// The host's side of a microVM's network: QEMU's user-mode NAT (no host
// configuration, no root-only bridge), through which the guest reaches
// what the host reaches (the host itself at the gateway address), and
// guest ports published on the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::vm {

// A guest TCP port forwarded from the host (`-p [ADDRESS:]HOST:GUEST`).
struct PublishedPort {
  std::string host_address = "0.0.0.0";  // as Docker: every interface unless one is named
  uint16_t host_port = 0, guest_port = 0;
};

// One line on what is wrong with `text`.
Result<PublishedPort> ParsePublishedPort(const std::string& text);

// QEMU's -netdev value for the VM's network (`id` names it), with the
// ports forwarded, or (`signature`) without them: they are the host's,
// not the device state's.
std::string UserNetdev(const std::string& id, const std::vector<PublishedPort>& ports,
                       bool signature);

}  // namespace lode::vm
