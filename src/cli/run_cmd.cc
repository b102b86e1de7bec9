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
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "agent/api.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "sandbox/container.h"
#include "sandbox/mount.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/size.h"
#include "vm/accel.h"
#include "vm/initramfs.h"
#include "vm/machine.h"
#include "vm/run_spec.h"

namespace lode::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct RunArgs {
  AgentDaemonArgs agent;
  std::string socket, ref, tenant, timings_json, runtime = "auto";
  bool writable = false, timings = false;
  std::vector<std::string> command;
  // --vm: a microVM instead of a container
  bool vm = false;
  int vm_memory_mib = 512, vm_cpus = 1;
  std::string accel = "auto", kernel;
};

// What --vm needs before anything is attached, so that a missing QEMU,
// kernel or accelerator fails fast.
struct VmPlan {
  vm::AccelChoice accel;
  vm::GuestKernel kernel;
};

VmPlan PlanVm(const RunArgs& a) {
  VmPlan plan;
  vm::Accel wanted = Check(vm::ParseAccel(a.accel));
  Check(vm::CheckQemu("qemu-system-x86_64"));
  plan.kernel = Check(vm::FindGuestKernel(a.kernel));
  plan.accel = Check(vm::ChooseAccel(wanted));
  if (!plan.accel.notice.empty()) std::fprintf(stderr, "lode run: %s\n", plan.accel.notice.c_str());
  return plan;
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A scratch directory for the run; removed at the end unless something is
// still mounted in it.
class RunDir {
 public:
  RunDir() {
    std::string tmpl = (fs::temp_directory_path() / "lode-run-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) Check(Status::FromErrno(errno, "create " + tmpl));
    path_ = tmpl;
  }
  ~RunDir() {
    if (!keep_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// An agent of this run's own, stopped (SIGTERM) when the run ends.
class PrivateAgent {
 public:
  PrivateAgent(const AgentDaemonArgs& args, const std::string& dir)
      : socket_(dir + "/agent.sock"), log_(dir + "/agent.log") {
    std::vector<std::string> argv = {"lode"};
    for (std::string& a : args.PrivateAgentArgs(socket_, dir + "/images")) argv.push_back(a);
    std::vector<char*> c_argv;
    for (std::string& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) Check(Status::FromErrno(errno, "fork the agent"));
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0) ::dup2(fd, STDERR_FILENO);
      ::dup2(STDERR_FILENO, STDOUT_FILENO);
      ::execv("/proc/self/exe", c_argv.data());
      _exit(127);
    }
    WaitUntilServing();
  }
  ~PrivateAgent() {
    ::kill(pid_, SIGTERM);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  const std::string& socket() const { return socket_; }

 private:
  void WaitUntilServing() {
    for (int i = 0; i < 1500; ++i) {
      if (agent::CallAgent(socket_, {{"op", "ping"}}).ok()) return;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        std::ifstream in(log_);
        std::string line, last;
        while (std::getline(in, line)) last = line;
        pid_ = -1;
        Check(Status::Unavailable("the private agent did not start: " + last));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Check(Status::Unavailable("the private agent did not answer within 15 s"));
  }
  std::string socket_, log_;
  pid_t pid_ = -1;
};

// Detaches at the end of the run, whatever happened.
struct AttachedImage {
  std::string socket, id;
  ~AttachedImage() {
    if (!id.empty()) (void)agent::CallAgent(socket, {{"op", "detach"}, {"id", id}});
  }
};

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

json FindAttachment(const std::string& socket, const std::string& id) {
  json list = AskAgent(socket, {{"op", "list"}});
  for (const json& a : list["attachments"]) {
    if (a["id"] == id) return a;
  }
  return json::object();
}

void ReportTimings(const json& t, bool human, const std::string& json_file) {
  if (human) {
    auto sec = [&](const char* key) { return t[key].get<double>(); };
    bool vm = t.contains("vmm_seconds");
    char runner[96];
    if (vm) {
      std::snprintf(runner, sizeof(runner), "VMM %.3f s, kernel to init %.3f s", sec("vmm_seconds"),
                    sec("boot_seconds"));
    } else {
      std::snprintf(runner, sizeof(runner), "mount %.3f s", sec("mount_seconds"));
    }
    std::fprintf(stderr,
                 "lode run: attach %.3f s, %s (first read %.3f s), %s start %.3f s, exit %.3f s; "
                 "total %.3f s (%s)\n",
                 sec("attach_seconds"), runner, sec("first_read_seconds"),
                 vm ? "command" : "process", sec("process_start_seconds"), sec("exit_seconds"),
                 sec("total_seconds"), t["runtime"].get<std::string>().c_str());
    uint64_t image = t["image_bytes"], fetched = t["fetched_bytes"];
    std::fprintf(stderr, "lode run: fetched %llu of %llu chunks, %s of a %s image (%.2f%%)\n",
                 static_cast<unsigned long long>(t["chunks_fetched"].get<uint64_t>()),
                 static_cast<unsigned long long>(t["chunks_total"].get<uint64_t>()),
                 FormatSize(fetched).c_str(), FormatSize(image).c_str(),
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
  double mount_seconds = Since(t);
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

// Boots a microVM on the block file (read-only; --rw writes go to a tmpfs
// overlay inside the guest) and runs the command in it.
json RunInVm(const RunArgs& a, const VmPlan& plan, const json& attached, const std::string& dir) {
  int64_t start_ns = MonotonicNanos();
  Clock::time_point t = Clock::now();
  std::string base = Check(vm::BaseInitramfs(plan.kernel, DataDir() + "/vm"));
  vm::RunSpec spec{attached["config"], a.command, a.writable};
  vm::VmConfig config;
  config.kernel = plan.kernel.image;
  config.initramfs = dir + "/initramfs.cpio";
  Check(vm::WriteRunInitramfs(base, spec, config.initramfs));
  double initramfs_seconds = Since(t);
  config.disk = attached["path"];
  config.accel = plan.accel.accel;
  config.memory_mib = a.vm_memory_mib;
  config.cpus = a.vm_cpus;
  config.work_dir = dir;
  vm::VmRun run = Check(vm::RunVm(config));
  return {{"runner_start_monotonic_ns", start_ns},
          {"initramfs_seconds", initramfs_seconds},
          {"vmm_seconds", run.vmm_seconds},
          {"boot_seconds", run.boot_seconds},
          {"process_start_seconds", run.start_seconds},
          {"exit_seconds", run.run_seconds},
          {"runtime", std::string("vm-") + vm::AccelName(plan.accel.accel)},
          {"exit_code", run.exit_code}};
}

void Run(const RunArgs& a) {
  Clock::time_point start = Clock::now();
  sandbox::Runtime runtime = Check(sandbox::ParseRuntime(a.runtime));
  std::optional<VmPlan> vm_plan;
  if (a.vm) vm_plan = PlanVm(a);
  bool local = a.ref.rfind("file:", 0) == 0;
  if (local && a.writable && !a.vm) {
    Check(Status::InvalidArgument("--rw on a file: image needs --vm (the file is never written)"));
  }
  if (!local && a.tenant.empty()) throw CLI::RequiredError("--tenant");
  Check(sandbox::EnterPrivateMountNamespace());
  RunDir dir;
  std::string socket = a.socket.empty() ? DefaultAgentSocket() : a.socket;
  std::unique_ptr<PrivateAgent> private_agent;
  if (!local && !agent::CallAgent(socket, {{"op", "ping"}}).ok()) {
    if (!a.socket.empty()) AskAgent(socket, {{"op", "ping"}});  // the one asked for: fail
    private_agent = std::make_unique<PrivateAgent>(a.agent, dir.path());
    socket = private_agent->socket();
  }
  double agent_seconds = Since(start);

  Clock::time_point t = Clock::now();
  json attached = local ? LocalImage(a.ref.substr(5))
                        : AskAgent(socket, {{"op", "attach"},
                                            {"ref", a.ref},
                                            {"tenant", a.tenant},
                                            // a VM's writes stay in the guest
                                            {"writable", a.writable && !a.vm},
                                            {"prefetch", a.agent.prefetch != "off"}});
  AttachedImage image{local ? "" : socket, attached.value("id", "")};
  double attach_seconds = Since(t);

  json phases =
      a.vm ? RunInVm(a, *vm_plan, attached, dir.path()) : RunInContainer(a, runtime, attached, dir);
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
      {"private_agent", private_agent != nullptr},
      {"agent_seconds", agent_seconds},
      {"attach_seconds", attach_seconds},
  };
  timings.update(phases);
  int64_t first_read_ns = stats.value("first_read_monotonic_ns", int64_t{0});
  int64_t runner_start_ns = phases["runner_start_monotonic_ns"];
  timings.erase("runner_start_monotonic_ns");
  timings["first_read_seconds"] = first_read_ns > runner_start_ns
                                      ? static_cast<double>(first_read_ns - runner_start_ns) / 1e9
                                      : 0.0;
  timings["total_seconds"] = Since(start);
  ReportTimings(timings, a.timings, a.timings_json);
  throw ExitStatus{timings["exit_code"].get<int>()};
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a command in a container on a pushed image, loading it on demand");
  cmd->add_option("ref", a->ref,
                  "ROOT/MANIFEST-ID, a tag, or file:PATH for an image `lode flatten` wrote")
      ->required();
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
  cmd->add_option("--vm-memory", a->vm_memory_mib, "microVM memory in MiB")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 20));
  cmd->add_option("--vm-cpus", a->vm_cpus, "microVM vCPUs")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--accel", a->accel, "auto (KVM where the CPU virtualizes, else TCG), kvm or tcg")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_option("--kernel", a->kernel,
                  "guest kernel bzImage (default: the newest /boot/vmlinuz-*; its modules from "
                  "/lib/modules)");
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Run(*a); });
}

}  // namespace lode::cli
