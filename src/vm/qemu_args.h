// QEMU's command line for a VmConfig, and the names of the virtio-serial
// ports lode connects to. Internal to the vm component.
#pragma once

#include <string>
#include <vector>

#include "vm/machine.h"

namespace lode::vm {

struct Port {
  const char* name;
  std::string socket;
};

// stdout, stderr, stdin, status and (VmConfig::runtime_api) the Runtime
// API's port, in that order, on sockets in the VM's work directory.
std::vector<Port> PortsOf(const VmConfig& config);

// QEMU's arguments. With `signature` every path, and what differs between
// taking a snapshot and restoring it by design (host ports, where the disk
// lies in its file), is left out: what remains shapes the device state.
std::vector<std::string> QemuArgs(const VmConfig& config, const std::vector<Port>& ports,
                                  bool signature = false);

// A path for /bin/sh (QEMU runs exec: migration URIs with it).
std::string ShellWord(const std::string& path);

}  // namespace lode::vm
