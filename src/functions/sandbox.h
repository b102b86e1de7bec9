// A function's sandbox: a container (crun) of the function's image,
// attached through the agent (lazily loaded, read-only, /tmp writable) and
// mounted through a loop device, in a network namespace of its own where
// 127.0.0.1:9001 is this sandbox's Runtime API and nothing else of the
// host's is (outbound NAT through slirp4netns unless the function has
// network "none"). Or, for a function whose sandbox is "vm", a microVM
// whose disk is the attachment: QEMU runs in that network namespace, and
// the guest's init serves the Runtime API on the guest's 127.0.0.1:9001,
// relayed over a virtio-serial port to this sandbox's API. It starts with
// Lambda's environment and lives across invocations until the host
// discards it.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "catalog/function.h"
#include "functions/http_server.h"
#include "functions/report.h"
#include "functions/runtime_api.h"
#include "sandbox/container.h"
#include "sandbox/mount.h"
#include "sandbox/network.h"
#include "util/status.h"
#include "vm/accel.h"
#include "vm/machine.h"

namespace lode::functions {

constexpr const char* kRuntimeApiAddress = "127.0.0.1:9001";

// How a host boots sandboxes that are microVMs (found once, at its start).
struct VmSandboxSettings {
  std::string kernel;          // the guest kernel
  std::string base_initramfs;  // lode's initramfs for it (vm::BaseInitramfs)
  vm::Accel accel = vm::Accel::kTcg;
  std::string qemu_version;  // vm::QemuVersion: snapshots restore only under theirs
  std::string kernel_version;
};

struct SandboxSpec {
  std::string id;        // unique on the host: names the container
  std::string work_dir;  // created; removed with the sandbox
  std::string agent_socket;
  int pid_namespace = -1;  // sandbox::PidNamespace to run in, if any
  std::string image_ref;   // ROOT/MANIFEST-ID, or file:PATH (catalog::IsLocalImage)
  catalog::FunctionConfig function;
  std::string function_arn;
  std::string region;
  bool prefetch = true;
  // For functions whose sandbox is "vm"; when absent, why this host has
  // none.
  std::optional<VmSandboxSettings> vm;
  std::string vm_unavailable;
  // SnapStart: kPublishing boots the VM with its memory in `memory_file`
  // (mapped shared: the file is the memory) to be saved (SaveVm);
  // kRestored restores the snapshot `image_ref` names. A snapshot this host
  // cannot restore (another QEMU, accelerator or device set) fails Start
  // with FailedPrecondition.
  SnapStartPhase snapstart = SnapStartPhase::kNone;
  std::string memory_file;
  // The runtime's stdout and stderr as they come, on the sandbox's own
  // reader thread.
  std::function<void(std::string_view)> output;
};

// Where a cold start spent its time before the runtime ran (the network
// is set up while the image is attached and mounted).
struct StartPhases {
  double attach_seconds = 0, mount_seconds = 0, network_seconds = 0, spawn_seconds = 0;
};

class Sandbox {
 public:
  // Attaches, mounts, sets up the network and the Runtime API and starts
  // the runtime; returns without waiting for its initialization
  // (api().AwaitInit does).
  static Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);
  // Kills the runtime and releases everything (container, API, network,
  // mount, attachment, directory).
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  RuntimeApi& api() { return *api_; }
  const StartPhases& phases() const { return phases_; }
  const std::string& id() const { return spec_.id; }
  // The most memory the sandbox used in its life.
  uint64_t PeakMemoryBytes() const;
  // Ends the runtime now; pending calls of the API return.
  void Kill();
  // Publishing: pauses the VM, writes its device state to `state_file` and
  // ends it (its memory is in SandboxSpec::memory_file).
  Result<vm::SavedVm> SaveVm(const std::string& state_file);
  // The VM it runs (a VM sandbox's, once started).
  const vm::VmConfig& vm_config() const { return vm_config_; }
  // A restored sandbox: what it loaded so far of each part of its
  // snapshot (empty for others, or when the agent cannot tell).
  std::vector<RegionLoad> SnapshotLoads() const;
  // A restored sandbox: the 4 KiB pages of guest memory read so far, as
  // runs {first page, count}.
  Result<std::vector<std::pair<uint64_t, uint64_t>>> GuestMemoryPagesRead() const;

 private:
  explicit Sandbox(SandboxSpec spec);
  Status Launch();
  Status SetUpNetwork();
  bool IsVm() const;
  // Mounts the image and makes the runtime's process (while the network
  // comes up); StartContainer then starts it.
  Status LaunchContainer(const std::string& image_file, const std::string& config_text,
                         const std::vector<std::string>& command);
  Status StartContainer();
  Status LaunchVm(const std::string& image_file, const std::string& config_text,
                  const std::vector<std::string>& command);
  Status LaunchRestoredVm(const std::string& file, const std::string& description,
                          uint64_t file_bytes);
  vm::VmConfig FunctionVmConfig(const std::string& image_file) const;
  Status StartVm(const vm::VmConfig& config);
  void ReadOutput(UniqueFd from);
  void WaitForExit();

  SandboxSpec spec_;
  StartPhases phases_;
  std::unique_ptr<RuntimeApi> api_;
  std::string attachment_;
  nlohmann::json snapshot_regions_;  // vm::SnapshotRegions of a restored one
  std::unique_ptr<sandbox::Mount> mount_;
  sandbox::ProcessSpec process_;
  std::unique_ptr<sandbox::NetworkNamespace> network_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<sandbox::Container> container_;
  std::unique_ptr<vm::BackgroundVm> vm_;
  vm::VmConfig vm_config_;
  std::thread reader_, waiter_;
};

// The sandbox's environment: the image's, then the function's, then
// Lambda's (which neither can override). KEY=VALUE strings.
std::vector<std::string> LambdaEnvironment(const std::vector<std::string>& image_env,
                                           const SandboxSpec& spec, const std::string& handler);

}  // namespace lode::functions
