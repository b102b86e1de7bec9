// lode run: attach an image (starting a private agent when none answers),
// mount it, run a command in a container on it, and clean up. Everything
// it mounts lives in a mount namespace of its own, so nothing is left
// mounted even if it is killed.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "agent/api.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "sandbox/container.h"
#include "sandbox/mount.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/size.h"
#include "util/text.h"
#include "vm/accel.h"
#include "vm/initramfs.h"
#include "vm/machine.h"
#include "vm/run_spec.h"
#include "vm/snapshot_info.h"

namespace lode::cli {
namespace {

namespace fs = std::filesystem;
using Clock = SteadyClock;
using nlohmann::json;

struct RunArgs {
  AgentDaemonArgs agent;
  std::string socket, ref, tenant, timings_json, runtime = "auto";
  bool writable = false, timings = false;
  std::vector<std::string> command;
  // --vm: a microVM instead of a container
  bool vm = false;
  VmArgs vm_args;
  std::string snapshot;              // --snapshot: restore this instead of booting
  std::vector<std::string> publish;  // -p [ADDRESS:]HOST:GUEST
};

std::vector<vm::PublishedPort> PublishedPorts(const RunArgs& a) {
  std::vector<vm::PublishedPort> ports;
  for (const std::string& p : a.publish) ports.push_back(Check(vm::ParsePublishedPort(p)));
  return ports;
}

// A flattened image on local disk (`lode flatten -o PATH` wrote its run
// config to PATH.config.json) in place of an attachment: the baseline the
// lazily loaded image is measured against.
json LocalImage(const std::string& path) {
  std::string config = Check(ReadFileToString(path + ".config.json"));
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) Check(Status::NotFound(path + ": " + ec.message()));
  return {{"path", fs::absolute(path).string()},
          {"config", config},
          {"image_bytes", size},
          {"chunks", 0},
          {"holes", 0}};
}

// From the start of the prefetch to its end (or to now, if still running).
double PrefetchSeconds(const json& stats) {
  int64_t start = stats.value("prefetch_start_monotonic_ns", int64_t{0});
  int64_t done = stats.value("prefetch_done_monotonic_ns", int64_t{0});
  if (start == 0) return 0;
  return static_cast<double>((done ? done : MonotonicNanos()) - start) / 1e9;
}

// "WHAT 120 of 512 stored chunks of guest memory (23.4%), ..."
void PrintRestoreLoads(const char* what, const json& regions) {
  std::string parts;
  for (const auto& [name, label] :
       {std::pair{"memory", "guest memory"}, std::pair{"state", "device state"},
        std::pair{"disk", "disk"}}) {
    const json& r = regions[name];
    uint64_t loaded = r["chunks_loaded"], stored = r["chunks_stored"];
    char part[128];
    std::snprintf(part, sizeof(part), "%s%llu of %llu stored chunks of %s (%.1f%%)",
                  parts.empty() ? "" : ", ", static_cast<unsigned long long>(loaded),
                  static_cast<unsigned long long>(stored), label,
                  stored ? 100.0 * static_cast<double>(loaded) / static_cast<double>(stored) : 0.0);
    parts += part;
  }
  std::fprintf(stderr, "lode run: %s %s\n", what, parts.c_str());
}

void ReportTimings(const json& t, bool human, const std::string& json_file) {
  if (human) {
    auto sec = [&](const char* key) { return t[key].get<double>(); };
    bool vm = t.contains("vmm_seconds");
    bool restore = t.value("restored", false);
    char runner[96];
    if (vm) {
      std::snprintf(runner, sizeof(runner), "VMM %.3f s, %s %.3f s", sec("vmm_seconds"),
                    restore ? "restore" : "kernel to init", sec("boot_seconds"));
    } else {
      std::snprintf(runner, sizeof(runner), "mount %.3f s", sec("mount_seconds"));
    }
    std::fprintf(stderr,
                 "lode run: attach %.3f s, %s (first read %.3f s), %s %.3f s, exit %.3f s; "
                 "total %.3f s (%s)\n",
                 sec("attach_seconds"), runner, sec("first_read_seconds"),
                 restore ? "reseed"
                 : vm    ? "command start"
                         : "process start",
                 sec("process_start_seconds"), sec("exit_seconds"), sec("total_seconds"),
                 t["runtime"].get<std::string>().c_str());
    uint64_t image = t["image_bytes"], fetched = t["fetched_bytes"];
    std::fprintf(stderr, "lode run: fetched %llu of %llu chunks, %s of a %s %s (%.2f%%)\n",
                 static_cast<unsigned long long>(t["chunks_fetched"].get<uint64_t>()),
                 static_cast<unsigned long long>(t["chunks_total"].get<uint64_t>()),
                 FormatSize(fetched).c_str(), FormatSize(image).c_str(),
                 restore ? "snapshot" : "image",
                 image ? 100.0 * static_cast<double>(fetched) / static_cast<double>(image) : 0.0);
    if (t["prefetch_chunks"].get<uint64_t>() > 0) {
      std::fprintf(stderr,
                   "lode run: prefetched %llu of a %llu-chunk profile in %.3f s (%llu errors); "
                   "%llu demand reads still waited\n",
                   static_cast<unsigned long long>(t["prefetched"].get<uint64_t>()),
                   static_cast<unsigned long long>(t["prefetch_chunks"].get<uint64_t>()),
                   t["prefetch_seconds"].get<double>(),
                   static_cast<unsigned long long>(t["prefetch_errors"].get<uint64_t>()),
                   static_cast<unsigned long long>(t["demand_waits"].get<uint64_t>()));
    }
  }
  if (human && t.contains("regions")) {
    PrintRestoreLoads("the restore loaded", t["regions"]);
    if (t.contains("regions_before_resume")) {
      PrintRestoreLoads("QEMU loaded, before the guest resumed,", t["regions_before_resume"]);
    }
  }
  if (!json_file.empty()) Check(WriteFileAtomically(json_file, t.dump(2) + "\n"));
}

// Mounts the block file and runs the command in a container on it; the
// phases' timings and the exit code.
json RunInContainer(const RunArgs& a, sandbox::Runtime runtime, const json& attached, RunDir& dir) {
  Clock::time_point t = Clock::now();
  int64_t mount_start_ns = MonotonicNanos();
  std::string rootfs = dir.path() + "/rootfs";
  std::unique_ptr<sandbox::Mount> mount =
      Check(sandbox::Mount::Ext4(attached["path"], rootfs, a.writable));
  double mount_seconds = SecondsSince(t);
  sandbox::ProcessSpec process =
      Check(sandbox::ProcessFromConfig(attached["config"], a.command, rootfs));
  sandbox::ContainerRun run =
      Check(sandbox::RunContainer(rootfs, process, a.writable, dir.path(), runtime));
  if (!mount->Unmount().ok()) dir.Keep();
  return {{"runner_start_monotonic_ns", mount_start_ns},
          {"mount_seconds", mount_seconds},
          {"process_start_seconds", run.start_seconds},
          {"exit_seconds", run.run_seconds},
          {"runtime", run.runtime == sandbox::Runtime::kCrun ? "crun" : "chroot"},
          {"exit_code", run.exit_code}};
}

json VmPhases(const vm::VmRun& run, const VmPlan& plan, int64_t start_ns) {
  json phases = {{"runner_start_monotonic_ns", start_ns},
                 {"vmm_seconds", run.vmm_seconds},
                 {"boot_seconds", run.boot_seconds},
                 {"process_start_seconds", run.start_seconds},
                 {"exit_seconds", run.run_seconds},
                 {"runtime", std::string("vm-") + vm::AccelName(plan.accel.accel)},
                 {"exit_code", run.exit_code}};
  if (!run.forked.empty()) phases["reseed"] = run.forked;
  return phases;
}

// Boots a microVM on the block file (read-only; --rw writes go to a tmpfs
// overlay inside the guest) and runs the command in it.
json RunInVm(const RunArgs& a, const VmPlan& plan, const json& attached, const std::string& dir) {
  int64_t start_ns = MonotonicNanos();
  Clock::time_point t = Clock::now();
  vm::VmConfig config =
      VmConfigFor(plan, dir, a.vm_args.memory_mib, a.vm_args.cpus, a.vm_args.has_network());
  config.published = PublishedPorts(a);
  std::string base = Check(vm::BaseInitramfs(plan.kernel, DataDir() + "/vm"));
  Check(vm::WriteRunInitramfs(
      base, {attached["config"], a.command, a.writable, GuestNetworkOf(config)}, config.initramfs));
  double initramfs_seconds = SecondsSince(t);
  config.disk = attached["path"];
  json phases = VmPhases(Check(vm::RunVm(config)), plan, start_ns);
  phases["initramfs_seconds"] = initramfs_seconds;
  return phases;
}

// The attachment's snapshot description; nullopt for an image.
Result<std::optional<vm::SnapshotInfo>> SnapshotOf(const json& attached) {
  return vm::DecodeSnapshotInfo(attached["config"], attached["image_bytes"]);
}

// What a restore did with each part of its snapshot (guest memory, device
// state, disk), by name: the agent's `regions` answer.
json SnapshotLoads(const std::string& socket, const std::string& id, const json& regions) {
  json reply = AskAgent(socket, {{"op", "regions"}, {"id", id}, {"regions", regions}});
  json loads = json::object();
  for (json r : reply["regions"]) {
    std::string name = r["name"];
    r.erase("name");
    loads[name] = r;
  }
  return loads;
}

// A restore needs QEMU to build the device set the snapshot was taken
// with; QEMU's own check ("Unknown savevm section") comes late and says
// little.
void CheckSameDevices(const vm::SnapshotInfo& info, const vm::VmConfig& config,
                      const std::string& qemu_version) {
  std::string here = vm::DeviceSignature(config, qemu_version);
  if (here == info.device_signature) return;
  std::vector<std::string> taken = Split(info.device_signature, ' '), now = Split(here, ' ');
  size_t i = 0;
  while (i < taken.size() && i < now.size() && taken[i] == now[i]) ++i;
  auto word = [&](const std::vector<std::string>& words) {
    return i < words.size() ? "'" + Excerpt(words[i]) + "'" : std::string("nothing");
  };
  Check(Status::InvalidArgument("the snapshot was taken on another VM (" + word(taken) +
                                " where this one has " + word(now) +
                                "): restore it with the QEMU and devices it was taken with"));
}

// Restores the snapshot attached as `attached` (memory, device state and
// disk in one block file): the VM must be the one it was taken of, under
// the QEMU that says `qemu_version`.
json RestoreVm(const RunArgs& a, const VmPlan& plan, const json& attached, const std::string& dir,
               const std::string& qemu_version, const std::function<json()>& loads) {
  int64_t start_ns = MonotonicNanos();
  std::string file = attached["path"];
  std::optional<vm::SnapshotInfo> snapshot = Check(SnapshotOf(attached));
  if (!snapshot) Check(Status::InvalidArgument(a.snapshot + " is an image, not a snapshot"));
  const vm::SnapshotInfo& info = *snapshot;
  if (info.accel != vm::AccelName(plan.accel.accel)) {
    Check(Status::InvalidArgument("the snapshot was taken under " + info.accel +
                                  " and cannot be restored under " +
                                  vm::AccelName(plan.accel.accel)));
  }
  std::string other = a.vm_args.AsksOtherThan(info.memory_mib, info.cpus, info.network);
  if (!other.empty()) {
    Check(Status::InvalidArgument("the snapshot's VM has " + other +
                                  ": a restore cannot change its memory, vCPUs or network"));
  }
  vm::VmConfig config = VmConfigFor(plan, dir, info.memory_mib, info.cpus, info.network);
  config.published = PublishedPorts(a);
  // The guest booted long ago: the initramfs is only what QEMU expects to
  // be handed, never read again.
  config.initramfs = Check(vm::BaseInitramfs(plan.kernel, DataDir() + "/vm"));
  config.disk = file;
  config.disk_offset = info.disk_offset;
  config.disk_bytes = info.disk_bytes;
  config.memory_file = file;
  config.memory_shared = false;
  CheckSameDevices(info, config, qemu_version);
  config.incoming_state = dir + "/state";
  Check(CopyRangeToFile(file, info.state_offset, info.state_bytes, config.incoming_state));
  json before_resume;
  if (loads) config.state_loaded = [&] { before_resume = loads(); };
  json phases = VmPhases(Check(vm::RunVm(config)), plan, start_ns);
  phases["restored"] = true;
  if (!before_resume.is_null()) phases["regions_before_resume"] = before_resume;
  return phases;
}

// Usage errors of combinations CLI11 cannot express.
void CheckArgs(const RunArgs& a, bool local) {
  if (!a.snapshot.empty()) {
    if (!a.vm) throw CLI::ValidationError("--snapshot", "restores a microVM: add --vm");
    if (!a.ref.empty()) throw CLI::ValidationError("--snapshot", "replaces REF: give one of them");
    if (!a.command.empty() || a.writable) {
      throw CLI::ValidationError("--snapshot",
                                 "the restored VM goes on with the snapshot's command and root: "
                                 "no command or --rw (give --rw to snapshot create)");
    }
  } else if (a.ref.empty()) {
    throw CLI::RequiredError("ref");
  }
  if (!a.publish.empty() && !a.vm) {
    throw CLI::ValidationError("-p", "publishes a microVM's port: add --vm");
  }
  if (!a.publish.empty() && !a.vm_args.has_network()) {
    throw CLI::ValidationError("-p", "needs the VM's network: not with --network none");
  }
  if (local && a.writable && !a.vm) {
    Check(Status::InvalidArgument("--rw on a file: image needs --vm (the file is never written)"));
  }
  if (!local && a.tenant.empty()) throw CLI::RequiredError("--tenant");
}

void Run(const RunArgs& a) {
  Clock::time_point start = Clock::now();
  sandbox::Runtime runtime = Check(sandbox::ParseRuntime(a.runtime));
  bool local = a.ref.rfind("file:", 0) == 0;
  bool restore = !a.snapshot.empty();
  CheckArgs(a, local);
  std::optional<VmPlan> vm_plan;
  if (a.vm) vm_plan = PlanVm(a.vm_args, "run");
  Check(sandbox::EnterPrivateMountNamespace());
  // Asked while the agent attaches the snapshot: starting QEMU just to
  // print its version takes tens of milliseconds. (After the unshare: the
  // thread must be in the run's mount namespace.)
  std::future<Result<std::string>> qemu_version;
  if (restore) qemu_version = std::async(std::launch::async, vm::QemuVersion, vm::kQemu);
  RunDir dir;
  SessionAgent agent;
  if (!local) agent = ReachAgent(a.socket, a.agent, dir.path());
  const std::string& socket = agent.socket;
  double agent_seconds = SecondsSince(start);

  Clock::time_point t = Clock::now();
  json attached = local ? LocalImage(a.ref.substr(5))
                        : AskAgent(socket, {{"op", "attach"},
                                            {"ref", restore ? a.snapshot : a.ref},
                                            {"tenant", a.tenant},
                                            // a VM's writes stay in the guest
                                            {"writable", a.writable && !a.vm},
                                            {"prefetch", a.agent.prefetch != "off"}});
  AttachedImage image(local ? "" : socket, attached.value("id", ""));
  double attach_seconds = SecondsSince(t);
  if (!restore && Check(SnapshotOf(attached)).has_value()) {
    Check(Status::InvalidArgument(
        a.ref + " is a snapshot: restore it with lode run --vm --snapshot " + a.ref));
  }

  // The snapshot's parts, asked about once its device state is loaded and
  // again at the end.
  std::optional<vm::SnapshotInfo> snapshot;
  if (restore && !local) snapshot = Check(SnapshotOf(attached));
  json regions = snapshot ? vm::SnapshotRegions(*snapshot) : json();
  std::function<json()> loads;
  if (!regions.is_null()) loads = [&] { return SnapshotLoads(socket, image.id, regions); };
  json phases = restore
                    ? RestoreVm(a, *vm_plan, attached, dir.path(), Check(qemu_version.get()), loads)
                : a.vm ? RunInVm(a, *vm_plan, attached, dir.path())
                       : RunInContainer(a, runtime, attached, dir);
  json stats = local ? json::object() : FindAttachment(socket, image.id);
  json timings = {
      {"image_bytes", attached["image_bytes"]},
      {"chunks_total", attached["chunks"]},
      {"chunks_holes", attached["holes"]},
      {"fetched_bytes", stats.value("fetched_bytes", uint64_t{0})},
      {"chunks_fetched", stats.value("chunks_fetched", uint64_t{0})},
      {"l1_hits", stats.value("l1_hits", uint64_t{0})},
      {"l2_hits", stats.value("l2_hits", uint64_t{0})},
      {"origin_fetches", stats.value("origin_fetches", uint64_t{0})},
      {"bytes_read", stats.value("bytes_read", uint64_t{0})},
      {"prefetch_chunks", stats.value("prefetch_chunks", uint64_t{0})},
      {"prefetched", stats.value("prefetched", uint64_t{0})},
      {"prefetch_errors", stats.value("prefetch_errors", uint64_t{0})},
      {"prefetch_seconds", PrefetchSeconds(stats)},
      // Demand reads that still waited for a remote tier or for the
      // prefetch's fetch of the same chunk.
      {"demand_waits", stats.value("origin_fetches", uint64_t{0}) +
                           stats.value("l2_hits", uint64_t{0}) +
                           stats.value("shared_fetches", uint64_t{0})},
      {"private_agent", agent.private_agent != nullptr},
      {"agent_seconds", agent_seconds},
      {"attach_seconds", attach_seconds},
  };
  timings.update(phases);
  if (loads) timings["regions"] = loads();
  int64_t first_read_ns = stats.value("first_read_monotonic_ns", int64_t{0});
  int64_t runner_start_ns = phases["runner_start_monotonic_ns"];
  timings.erase("runner_start_monotonic_ns");
  timings["first_read_seconds"] = first_read_ns > runner_start_ns
                                      ? static_cast<double>(first_read_ns - runner_start_ns) / 1e9
                                      : 0.0;
  timings["total_seconds"] = SecondsSince(start);
  ReportTimings(timings, a.timings, a.timings_json);
  throw ExitStatus{timings["exit_code"].get<int>()};
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a command in a container on a pushed image, loading it on demand");
  cmd->add_option("ref", a->ref,
                  "ROOT/MANIFEST-ID, a tag, or file:PATH for an image `lode flatten` wrote");
  cmd->add_option("command", a->command,
                  "command and arguments, after --; default the image's entrypoint and cmd");
  cmd->add_option("--tenant", a->tenant,
                  "tenant whose key opens the manifest (required but for file: images)");
  cmd->add_flag("--rw", a->writable, "writable root file system (a copy-on-write overlay)");
  cmd->add_flag("--timings", a->timings, "print the cold-start breakdown on stderr");
  cmd->add_option("--timings-json", a->timings_json, "write the breakdown as JSON to FILE");
  cmd->add_option("--runtime", a->runtime,
                  "crun, chroot (PID namespace + chroot, no cgroups) or auto: crun if installed")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "crun", "chroot"}));
  cmd->add_flag("--vm", a->vm,
                "run in a microVM (QEMU) whose disk is the image; --rw writes stay in the guest");
  a->vm_args.Add(cmd);
  cmd->add_option("-p,--publish", a->publish,
                  "with --vm: forward [ADDRESS:]HOST:GUEST, a TCP port on the host (every "
                  "address unless one is given) to the guest's port; repeatable");
  cmd->add_option("--snapshot", a->snapshot,
                  "with --vm: restore this snapshot (`lode snapshot create`) instead of booting; "
                  "its memory loads on demand");
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Run(*a); });
}

}  // namespace lode::cli
