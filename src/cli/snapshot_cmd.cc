// lode snapshot create: boot an image in a microVM, run its command until
// it is ready, save the VM (memory and device state) and push it to the
// store beside the image as a snapshot that `lode run --vm --snapshot`
// restores, loading memory on demand.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "push/snapshot.h"
#include "sandbox/mount.h"
#include "util/file.h"
#include "util/size.h"
#include "vm/machine.h"
#include "vm/snapshot_info.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct SnapshotArgs {
  AgentDaemonArgs agent;
  std::string socket, ref, tenant, tag, ready_marker;
  double ready_after = -1, ready_timeout = 600;
  bool json = false, writable = false;
  std::vector<std::string> command;
  VmArgs vm;
};

struct TakenVm {
  vm::SavedVm saved;
  std::string signature;
};

// Boots the image attached as `attached`, runs the command until it is
// ready and saves the VM into `dir` (memory, state).
TakenVm TakeVm(const SnapshotArgs& a, const VmPlan& plan, const json& attached,
               const std::string& dir) {
  vm::VmConfig config = VmConfigFor(plan, dir, a.vm.memory_mib, a.vm.cpus, a.vm.has_network());
  std::string base = Check(vm::BaseInitramfs(plan.kernel, DataDir() + "/vm"));
  Check(vm::WriteRunInitramfs(
      base, {attached["config"], a.command, a.writable, GuestNetworkOf(config)}, config.initramfs));
  config.disk = attached["path"];
  config.memory_file = dir + "/memory";
  config.memory_shared = true;
  TakenVm taken;
  taken.signature = vm::DeviceSignature(config, Check(vm::QemuVersion(config.qemu)));
  std::fprintf(stderr, "lode snapshot: booting %s and running its command until it is ready\n",
               a.ref.c_str());
  taken.saved = Check(
      vm::SnapshotVm(config, {a.ready_marker, a.ready_after, a.ready_timeout}, dir + "/state"));
  if (taken.saved.stopped_by != 0) {
    std::fprintf(stderr,
                 "lode snapshot: stopped by SIG%s before the command was ready: nothing pushed\n",
                 ::sigabbrev_np(taken.saved.stopped_by));
    throw ExitStatus{128 + taken.saved.stopped_by};
  }
  return taken;
}

void Print(const push::PushResult& r, const vm::SavedVm& saved, const SnapshotArgs& a) {
  if (a.json) {
    json j = {{"ref", r.ref.ToString()},
              {"snapshot_bytes", r.image_bytes},
              {"chunks_total", r.chunks_total},
              {"chunks_holes", r.chunks_holes},
              {"chunks_existing", r.chunks_existing},
              {"chunks_new", r.chunks_new},
              {"bytes_uploaded", r.bytes_uploaded},
              {"ready_seconds", saved.boot_seconds},
              {"save_seconds", saved.save_seconds},
              {"state_bytes", saved.state_bytes}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s\n", r.ref.ToString().c_str());
  std::printf(
      "ready after %.2f s, saved in %.2f s; chunks: %llu total, %llu holes, %llu already "
      "stored, %llu new; %s uploaded\n",
      saved.boot_seconds, saved.save_seconds, static_cast<unsigned long long>(r.chunks_total),
      static_cast<unsigned long long>(r.chunks_holes),
      static_cast<unsigned long long>(r.chunks_existing),
      static_cast<unsigned long long>(r.chunks_new), FormatSize(r.bytes_uploaded).c_str());
}

void Create(const SnapshotArgs& a) {
  if (a.ready_marker.empty() == (a.ready_after < 0)) {
    throw CLI::ValidationError("--ready-marker", "give --ready-marker or --ready-after (one)");
  }
  VmPlan plan = PlanVm(a.vm, "snapshot");
  auto store = a.agent.store.Open();
  auto keys = a.agent.keys.Open();
  store::ImageRef ref = Check(catalog::ResolveRef(*store, a.tenant, a.ref));
  manifest::Manifest image = Check(catalog::OpenManifest(*store, ref, *keys, a.tenant));
  if (Check(vm::DecodeSnapshotInfo(image.image_config, image.fs_size)).has_value()) {
    Check(Status::InvalidArgument(a.ref + " is a snapshot: snapshots are taken of images"));
  }
  Check(sandbox::EnterPrivateMountNamespace());
  RunDir dir;
  TakenVm taken;
  {
    SessionAgent agent = ReachAgent(a.socket, a.agent, dir.path());
    json attached = AskAgent(agent.socket, {{"op", "attach"},
                                            {"ref", ref.ToString()},
                                            {"tenant", a.tenant},
                                            {"writable", false},
                                            {"prefetch", a.agent.prefetch != "off"}});
    AttachedImage attachment(agent.socket, attached["id"]);
    taken = TakeVm(a, plan, attached, dir.path());
  }
  vm::SnapshotInfo info;
  info.command = a.command;
  info.writable = a.writable;
  info.memory_mib = a.vm.memory_mib;
  info.cpus = a.vm.cpus;
  info.network = a.vm.has_network();
  info.accel = vm::AccelName(plan.accel.accel);
  info.kernel_version = plan.kernel.version;
  info.device_signature = taken.signature;
  push::PushResult result = PushSavedVm(dir.path(), ref, image, taken.saved.state_bytes, {}, info,
                                        a.tenant, *keys, *store);
  if (!a.tag.empty()) Check(catalog::SetTag(*store, a.tenant, a.tag, result.ref));
  Print(result, taken.saved, a);
}

}  // namespace

void RegisterSnapshot(CLI::App& app) {
  CLI::App* snapshot = app.add_subcommand(
      "snapshot", "MicroVM snapshots: run a command once, restore it ready many times");
  snapshot->require_subcommand(1);
  auto a = std::make_shared<SnapshotArgs>();
  CLI::App* cmd = snapshot->add_subcommand(
      "create",
      "Boot an image in a microVM, run its command until it is ready, and push the VM's memory "
      "and device state as a snapshot (restore: lode run --vm --snapshot REF)");
  cmd->add_option("ref", a->ref, "the image: ROOT/MANIFEST-ID or a tag")->required();
  cmd->add_option("command", a->command,
                  "command and arguments, after --; default the image's entrypoint and cmd");
  cmd->add_option("--tenant", a->tenant, "tenant whose key opens the image")->required();
  cmd->add_option("--ready-marker", a->ready_marker,
                  "the command is ready once it wrote this on stdout");
  cmd->add_option("--ready-after", a->ready_after,
                  "the command is ready this many seconds after "
                  "it started")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--ready-timeout", a->ready_timeout, "give up after this many seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--tag", a->tag, "also name the snapshot (lode tag)");
  cmd->add_flag("--rw", a->writable,
                "writable root file system (an overlay in guest memory): what the command wrote "
                "is in the snapshot, and every restore starts from it");
  cmd->add_flag("--json", a->json, "print one JSON object");
  a->vm.Add(cmd);
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Create(*a); });
}

}  // namespace lode::cli
