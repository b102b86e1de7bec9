// What a microVM's guest init needs from lode, and the names both sides
// agree on. The spec reaches the guest as a file of a small initramfs
// appended per run, so the image itself is never modified.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace lode::vm {

// The guest's side of its network (QEMU's user-mode NAT): the address of
// its one interface (CIDR), its default gateway (through which it also
// reaches the host) and its resolver. No address: loopback only.
struct GuestNetwork {
  std::string address, gateway, nameserver;
  bool enabled() const { return !address.empty(); }
};

// The addresses of QEMU's user-mode network (its defaults, made explicit).
inline const GuestNetwork kUserNetwork{"10.0.2.15/24", "10.0.2.2", "10.0.2.3"};
inline constexpr const char* kUserNetworkPrefix = "10.0.2.0/24";

struct RunSpec {
  std::string config_json;           // the image's run config (entrypoint, cmd, env, ...)
  std::vector<std::string> command;  // replaces entrypoint and cmd when not empty
  bool writable = false;             // a tmpfs overlay over the read-only disk
  GuestNetwork network;
  // The command's whole environment when not empty (else the image's).
  std::vector<std::string> env;
  // A function's VM: the init serves the Runtime API on 127.0.0.1:9001
  // through the lode.runtime port (runtime_port.h).
  bool runtime_api = false;
};

std::string EncodeRunSpec(const RunSpec& spec);
Result<RunSpec> DecodeRunSpec(const std::string& text);

// Files of the guest's initramfs.
inline constexpr const char* kGuestInitPath = "init";
inline constexpr const char* kGuestSpecPath = "lode/run.json";
inline constexpr const char* kGuestModuleDir = "lode/modules";  // NN-name.ko, loaded in name order

// virtio-serial port names: the command's stdio, and the status channel
// on which the init reports one line per event: "init" when it starts,
// "start" when the command is about to run, then "exit=N" or "error=TEXT".
// The host may send requests the other way: "reseed=HEX" (32 bytes) after
// it restored the VM from a snapshot, which the init answers with
// "forked=LINE" once the kernel's RNG was reseeded with them and, where
// the VM has a generation ID device, the kernel reseeded for the new ID
// (LINE quotes the guest's kernel log).
inline constexpr const char* kStdinPort = "lode.stdin";
inline constexpr const char* kStdoutPort = "lode.stdout";
inline constexpr const char* kStderrPort = "lode.stderr";
inline constexpr const char* kStatusPort = "lode.status";
inline constexpr const char* kReseedRequest = "reseed=";
inline constexpr const char* kForkedEvent = "forked";
inline constexpr const char* kReseedLogLine =
    "restored from a snapshot: kernel RNG reseeded with fresh entropy from the host";
// What the guest kernel (Linux 5.18 and later, CONFIG_VMGENID) logs when a
// new VM generation ID made it reseed.
inline constexpr const char* kKernelReseedLogLine = "crng reseeded due to virtual machine fork";

}  // namespace lode::vm
