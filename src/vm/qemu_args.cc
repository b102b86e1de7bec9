#include "vm/qemu_args.h"

#include <cstdlib>
#include <fstream>

#include "vm/network.h"
#include "vm/run_spec.h"
#include "vm/runtime_port.h"

namespace lode::vm {
namespace {

// The host's TSC rate, which the guest kernel cannot measure on `microvm`
// under TCG (no PIT to calibrate against): it would hang at boot.
std::string TscKhz() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu MHz", 0) == 0) {
      double mhz = std::strtod(line.substr(line.find(':') + 1).c_str(), nullptr);
      if (mhz > 0) return std::to_string(static_cast<long>(mhz * 1000));
    }
  }
  return "";
}

}  // namespace

std::string ShellWord(const std::string& path) {
  std::string out = "'";
  for (char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> QemuArgs(const VmConfig& c, const std::vector<Port>& ports,
                                  bool signature) {
  auto path = [&](const std::string& p) { return signature ? std::string("-") : p; };
  bool kvm = c.accel == Accel::kKvm;
  bool snapshots = !c.memory_file.empty();
  std::string append = "console=ttyS0 quiet panic=-1 reboot=t random.trust_cpu=on";
  if (!kvm && !snapshots) {  // q35 has a PIT to calibrate against
    std::string khz = TscKhz();
    if (!khz.empty()) append += " tsc_early_khz=" + khz;
  }
  std::string drive =
      "id=root,file=" + path(c.disk) + ",format=raw,if=none,readonly=on,cache=none,rerror=stop";
  if (c.disk_bytes > 0 && !signature) {  // where the disk lies in its file is no device's
    drive += ",offset=" + std::to_string(c.disk_offset) + ",size=" + std::to_string(c.disk_bytes);
  }
  // Snapshots run on q35, not microvm: only q35 builds the ACPI table of
  // QEMU's VM generation ID device, whose new ID on every restore makes
  // the guest kernel reseed its RNG. Its devices are PCI ones.
  std::string bus = snapshots ? "pci" : "device";
  std::vector<std::string> args = {c.qemu,
                                   "-M",
                                   snapshots ? "q35,memory-backend=mem" : "microvm",
                                   "-accel",
                                   kvm ? "kvm" : "tcg",
                                   "-cpu",
                                   kvm ? "host" : "max",
                                   "-m",
                                   std::to_string(c.memory_mib),
                                   "-smp",
                                   std::to_string(c.cpus),
                                   "-nodefaults",
                                   "-no-user-config",
                                   "-display",
                                   "none",
                                   "-no-reboot",
                                   "-kernel",
                                   path(c.kernel),
                                   "-initrd",
                                   path(c.initramfs),
                                   "-append",
                                   path(append),
                                   "-serial",
                                   "file:" + path(c.work_dir + "/console.log"),
                                   "-drive",
                                   drive,
                                   "-device",
                                   "virtio-blk-" + bus + ",drive=root",
                                   "-device",
                                   "virtio-serial-" + bus};
  if (c.network) {
    // No option ROM on PCI (q35): the kernel is loaded directly, nothing
    // boots from the network.
    args.insert(args.end(), {"-netdev", UserNetdev("net", c.published, signature), "-device",
                             "virtio-net-" + bus + ",netdev=net" + (snapshots ? ",romfile=" : "")});
  }
  if (snapshots) {
    args.insert(args.end(), {"-object",
                             "memory-backend-file,id=mem,size=" + std::to_string(c.memory_mib) +
                                 "M,mem-path=" + path(c.memory_file) +
                                 ",share=" + path(c.memory_shared ? "on" : "off"),
                             "-device", "vmgenid,guid=auto"});
  }
  args.insert(args.end(),
              {"-qmp", "unix:" + path(c.work_dir + "/qmp.sock") + ",server=on,wait=off"});
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string id = "port" + std::to_string(i);
    args.insert(
        args.end(),
        {"-chardev", "socket,id=" + id + ",path=" + path(ports[i].socket) + ",server=on,wait=on",
         "-device", "virtserialport,chardev=" + id + ",name=" + ports[i].name});
  }
  if (!c.incoming_state.empty() && !signature) args.insert(args.end(), {"-incoming", "defer"});
  return args;
}

std::vector<Port> PortsOf(const VmConfig& config) {
  std::vector<Port> ports;
  for (const char* name : {kStdoutPort, kStderrPort, kStdinPort, kStatusPort, kRuntimePort}) {
    if (name == kRuntimePort && !config.runtime_api) continue;
    ports.push_back({name, config.work_dir + "/" + name + ".sock"});
  }
  return ports;
}

std::string DeviceSignature(const VmConfig& config, const std::string& qemu_version) {
  std::string signature = qemu_version;
  std::vector<std::string> args = QemuArgs(config, PortsOf(config), /*signature=*/true);
  for (size_t i = 1; i < args.size(); ++i) signature += " " + args[i];
  return signature;
}

}  // namespace lode::vm
