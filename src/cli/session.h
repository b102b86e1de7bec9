// What `lode run` and `lode snapshot` share to start a workload: a scratch
// directory, an agent (the running one, or a private one for this
// command), attachments that are detached whatever happens, and the
// microVM's parts checked before anything is attached.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/agent_client.h"
#include "functions/sandbox.h"
#include "push/snapshot.h"
#include "vm/accel.h"
#include "vm/initramfs.h"
#include "vm/machine.h"
#include "vm/snapshot_info.h"

namespace lode::cli {

using SteadyClock = std::chrono::steady_clock;
double SecondsSince(SteadyClock::time_point t);

// A scratch directory for the command; removed at the end unless
// something is still mounted in it.
class RunDir {
 public:
  RunDir();
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// An agent of this command's own, stopped (SIGTERM) when it ends.
class PrivateAgent {
 public:
  PrivateAgent(const AgentDaemonArgs& args, const std::string& dir);
  ~PrivateAgent();
  PrivateAgent(const PrivateAgent&) = delete;
  PrivateAgent& operator=(const PrivateAgent&) = delete;
  const std::string& socket() const { return socket_; }

 private:
  void WaitUntilServing();
  std::string socket_, log_;
  int pid_ = -1;
};

// The agent to talk to: the one on `socket` (the default when empty), or,
// when none answers there and none was asked for, a private one started in
// `dir`.
struct SessionAgent {
  std::string socket;
  std::unique_ptr<PrivateAgent> private_agent;
};
SessionAgent ReachAgent(const std::string& socket, const AgentDaemonArgs& args,
                        const std::string& dir);

// Detaches at the end of the command, whatever happened.
struct AttachedImage {
  std::string socket, id;
  AttachedImage(std::string socket_path, std::string attachment)
      : socket(std::move(socket_path)), id(std::move(attachment)) {}
  AttachedImage(const AttachedImage&) = delete;
  AttachedImage& operator=(const AttachedImage&) = delete;
  ~AttachedImage();
};

// An attachment's entry in the agent's list (its counters).
nlohmann::json FindAttachment(const std::string& socket, const std::string& id);

// --vm-memory, --vm-cpus, --network, --accel and --kernel.
struct VmArgs {
  int memory_mib = 512, cpus = 1;
  std::string accel = "auto", kernel, network = "user";
  void Add(CLI::App* cmd);
  bool has_network() const { return network == "user"; }
  // What a restore cannot change: a description of the first of
  // --vm-memory, --vm-cpus and --network given with another value than the
  // snapshot's ("" when none).
  std::string AsksOtherThan(int snapshot_memory_mib, int snapshot_cpus,
                            bool snapshot_network) const;

 private:
  CLI::Option *memory_option_ = nullptr, *cpus_option_ = nullptr, *network_option_ = nullptr;
};

// What a microVM needs before anything is attached, so that a missing
// QEMU, kernel or accelerator fails fast; `verb` prefixes the notice that
// TCG was chosen.
struct VmPlan {
  vm::AccelChoice accel;
  vm::GuestKernel kernel;
};
VmPlan PlanVm(const VmArgs& args, const std::string& verb);

// The VM both a boot and a restore run (and a snapshot is taken of), its
// files in `dir`; the disk and memory are the caller's to add.
vm::VmConfig VmConfigFor(const VmPlan& plan, const std::string& dir, int memory_mib, int cpus,
                         bool network);

// How functions whose sandbox is a microVM boot on this host (`kernel`
// and `accel` as --kernel and --accel take them); `verb` prefixes the
// notice that TCG was chosen.
Result<functions::VmSandboxSettings> PlanFunctionVms(const std::string& kernel,
                                                     const std::string& accel,
                                                     const std::string& verb);

// Pushes a VM saved in `dir` (files memory and state) as a snapshot of
// `image` (`ref`): lays out its block file, records the layout in `info`
// (whose VM fields the caller filled) and seals the description with it.
// The guest memory pages in `touched` (what a restore read) are stored
// packed together.
push::PushResult PushSavedVm(const std::string& dir, const store::ImageRef& ref,
                             const manifest::Manifest& image, uint64_t state_bytes,
                             const push::PageRuns& touched, vm::SnapshotInfo& info,
                             const std::string& tenant, keys::KeyService& keys,
                             store::ObjectStore& store);

// The guest's side of the network a VmConfig has.
vm::GuestNetwork GuestNetworkOf(const vm::VmConfig& config);

}  // namespace lode::cli
