#include "sandbox/container.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sandbox/lifetime.h"
#include "util/file.h"

namespace lode::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

json OciConfig(const std::string& rootfs, const ProcessSpec& p, bool writable) {
  json caps = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
               "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
               "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
               "CAP_KILL",    "CAP_AUDIT_WRITE"};
  json tmpfs_opts = {"nosuid", "nodev", "mode=1777"};
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", p.uid}, {"gid", p.gid}}},
            {"args", p.args},
            {"env", p.env},
            {"cwd", p.cwd.empty() ? "/" : p.cwd},
            {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
            {"noNewPrivileges", true}}},
          {"root", {{"path", rootfs}, {"readonly", !writable}}},
          {"hostname", "lode"},
          {"mounts",
           json::array(
               {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                {{"destination", "/dev"},
                 {"type", "tmpfs"},
                 {"source", "tmpfs"},
                 {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
                {{"destination", "/dev/pts"},
                 {"type", "devpts"},
                 {"source", "devpts"},
                 {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
                {{"destination", "/dev/shm"},
                 {"type", "tmpfs"},
                 {"source", "shm"},
                 {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
                {{"destination", "/sys"},
                 {"type", "sysfs"},
                 {"source", "sysfs"},
                 {"options", {"nosuid", "noexec", "nodev", "ro"}}},
                {{"destination", "/tmp"},
                 {"type", "tmpfs"},
                 {"source", "tmpfs"},
                 {"options", tmpfs_opts}}})},
          {"linux",
           {{"namespaces",
             json::array(
                 {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
            {"maskedPaths", {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"}},
            {"readonlyPaths",
             {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

// crun 1.8 refuses a host that mounts cgroup v1 controllers and the v2
// hierarchy side by side; in our private mount namespace the v2 mount can go.
void HideMixedCgroupV2() {
  if (fs::exists("/sys/fs/cgroup/unified/cgroup.controllers") &&
      fs::exists("/sys/fs/cgroup/memory")) {
    ::umount2("/sys/fs/cgroup/unified", MNT_DETACH);
  }
}

// Starts crun with `args`; its output goes to `out` and `err` (-1: ours).
// With a PID namespace, crun runs in it (a PID namespace can only be
// created from inside the one a process's children go to), under a relay
// that stays here and exits with crun's status (and needs no death signal:
// crun, and so the relay, ends with the namespace).
pid_t SpawnCrun(const std::vector<std::string>& args, int pid_namespace, int out, int err) {
  std::vector<std::string> argv = {"crun"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (pid_namespace >= 0 && ::setns(pid_namespace, CLONE_NEWPID) != 0) _exit(126);
  if (out >= 0) ::dup2(out, STDOUT_FILENO);
  if (err >= 0) ::dup2(err, STDERR_FILENO);
  // The relay never execs: it must not hold the host's descriptors (a
  // sandbox's pipes and sockets would never see their ends).
  ::close_range(3, ~0U, 0);
  if (pid_namespace >= 0) {
    pid_t crun = ::fork();
    if (crun < 0) _exit(126);
    if (crun > 0) {
      int status = 0;
      while (::waitpid(crun, &status, 0) < 0 && errno == EINTR) {
      }
      _exit(ExitCodeOf(status));
    }
  }
  ::execvp(c_argv[0], c_argv.data());
  _exit(127);
}

// The OCI config of `spec`: OciConfig plus what a long-lived sandbox
// adds. A poststart hook (tee of the container state into a file) stamps
// the moment the command started (the file's modification time) and
// records its PID.
json SandboxConfig(const ContainerSpec& spec, const std::string& started_file) {
  json config = OciConfig(spec.rootfs, spec.process, spec.writable);
  config["hooks"]["poststart"] =
      json::array({{{"path", "/usr/bin/tee"}, {"args", {"tee", started_file}}}});
  if (!spec.network_namespace.empty()) {
    config["linux"]["namespaces"].push_back(
        {{"type", "network"}, {"path", spec.network_namespace}});
  }
  for (const auto& [host, inside] : spec.file_binds) {
    config["mounts"].push_back({{"destination", inside},
                                {"type", "bind"},
                                {"source", host},
                                {"options", {"bind", "ro", "nosuid", "nodev"}}});
  }
  if (spec.memory_limit_bytes > 0) {
    config["linux"]["resources"]["memory"]["limit"] = spec.memory_limit_bytes;
    config["linux"]["cgroupsPath"] = "/lode/" + spec.name;
  }
  return config;
}

std::string StartedFile(const ContainerSpec& spec) { return spec.work_dir + "/bundle/started"; }

// One `crun run`, which creates, starts, waits for and deletes the
// container: each crun invocation costs tens of milliseconds, so a cold start
// pays for one.
Result<ContainerRun> RunWithCrun(const std::string& rootfs, const ProcessSpec& p, bool writable,
                                 const std::string& work_dir) {
  ContainerSpec spec;
  spec.rootfs = rootfs;
  spec.process = p;
  spec.writable = writable;
  spec.work_dir = work_dir;
  spec.name = "lode-" + std::to_string(::getpid());
  ContainerRun run;
  run.runtime = Runtime::kCrun;
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Container> container, Container::Start(spec));
  Clock::time_point t0 = Clock::now();
  LODE_ASSIGN_OR_RETURN(run.exit_code, container->Wait());
  double total = Seconds(Clock::now() - t0);
  std::optional<std::chrono::system_clock::time_point> started = container->Started();
  if (!started) {  // the command never started: crun failed before it
    return Status::IOError("crun could not start the container (exit " +
                           std::to_string(run.exit_code) + ")");
  }
  run.start_seconds = std::clamp(
      std::chrono::duration<double>(*started - container->spawned()).count(), 0.0, total);
  run.run_seconds = total - run.start_seconds;
  return run;
}

[[noreturn]] void ExecInChroot(const std::string& rootfs, const ProcessSpec& p) {
  ::mount("proc", (rootfs + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  if (::chroot(rootfs.c_str()) != 0 || ::chdir(p.cwd.empty() ? "/" : p.cwd.c_str()) != 0)
    _exit(126);
  if (::setgroups(0, nullptr) != 0 || ::setgid(p.gid) != 0 || ::setuid(p.uid) != 0) _exit(126);
  ::clearenv();
  for (const std::string& e : p.env) ::putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> args;
  for (const std::string& a : p.args) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  _exit(127);
}

// A PID namespace (the command is its init) and chroot; no cgroups.
Result<ContainerRun> RunWithChroot(const std::string& rootfs, const ProcessSpec& p) {
  ContainerRun run;
  run.runtime = Runtime::kChroot;
  Clock::time_point t0 = Clock::now();
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    ::close(ready[0]);
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) _exit(126);
    pid_t child = ::fork();
    if (child < 0) _exit(126);
    if (child == 0) ExecInChroot(rootfs, p);  // its exec closes `ready`: the command has started
    ::close(ready[1]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(ExitCodeOf(status));
  }
  ::close(ready[1]);
  char byte;
  while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  Clock::time_point t1 = Clock::now();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "wait for the container");
  }
  run.exit_code = ExitCodeOf(status);
  run.start_seconds = Seconds(t1 - t0);
  run.run_seconds = Seconds(Clock::now() - t1);
  return run;
}

}  // namespace

Result<std::unique_ptr<Container>> Container::Start(const ContainerSpec& spec) {
  HideMixedCgroupV2();
  std::string bundle = spec.work_dir + "/bundle";
  fs::create_directories(bundle);
  LODE_RETURN_IF_ERROR(WriteFileAtomically(bundle + "/config.json",
                                           SandboxConfig(spec, StartedFile(spec)).dump(),
                                           AtomicFile::Durability::kUnsynced));
  std::unique_ptr<Container> c(new Container(spec));
  std::string state = spec.work_dir + "/crun";
  c->spawned_ = std::chrono::system_clock::now();
  c->crun_ = SpawnCrun({"--root", state, "run", "--bundle", bundle, spec.name}, spec.pid_namespace,
                       spec.stdout_fd, spec.stderr_fd);
  if (c->crun_ < 0) return Status::FromErrno(errno, "fork crun");
  return c;
}

Result<int> Container::Wait() {
  if (int code = exit_code_.load(); code >= 0) return code;
  int status = 0;
  while (::waitpid(crun_, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "wait for the container");
  }
  exit_code_ = ExitCodeOf(status);
  return exit_code_.load();
}

std::optional<std::chrono::system_clock::time_point> Container::Started() const {
  std::error_code ec;
  auto stamp = fs::last_write_time(StartedFile(spec_), ec);
  if (ec) return std::nullopt;
  return std::chrono::file_clock::to_sys(stamp);
}

// The processes in the container's cgroup, as this process numbers them.
std::vector<pid_t> Container::CgroupProcesses() const {
  std::vector<pid_t> pids;
  if (spec_.memory_limit_bytes == 0) return pids;
  for (const std::string& file : {"/sys/fs/cgroup/memory/lode/" + spec_.name + "/cgroup.procs",
                                  "/sys/fs/cgroup/lode/" + spec_.name + "/cgroup.procs"}) {
    std::ifstream in(file);
    for (pid_t pid; in >> pid;) pids.push_back(pid);
    if (!pids.empty()) break;
  }
  return pids;
}

void Container::Kill() {
  if (exit_code_.load() >= 0) return;
  // The command is its PID namespace's init: killing it ends them all.
  Result<std::string> started = ReadFileToString(StartedFile(spec_));
  json state = json::parse(started.ok() ? *started : "", nullptr, false);
  if (spec_.pid_namespace < 0 && state.is_object() && state.contains("pid") &&
      state["pid"].is_number_integer()) {
    ::kill(state["pid"].get<pid_t>(), SIGKILL);
    return;
  }
  // crun numbered the PID in another namespace: the cgroup lists it as we
  // number it.
  std::vector<pid_t> pids = CgroupProcesses();
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  if (!pids.empty()) return;
  // Still starting: crun's own kill finds the container if it exists yet,
  // and crun ends before it can start one otherwise.
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_t killer = SpawnCrun({"--root", spec_.work_dir + "/crun", "kill", spec_.name, "KILL"},
                           spec_.pid_namespace, devnull, devnull);
  ::close(devnull);
  int status;
  while (killer > 0 && ::waitpid(killer, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(crun_, SIGKILL);
}

Container::~Container() {
  Kill();
  (void)Wait();
  if (spec_.memory_limit_bytes > 0) {
    RemoveContainerCgroups([&](const std::string& name) { return name == spec_.name; });
  }
}

uint64_t Container::PeakMemoryBytes() const {
  for (const std::string& file :
       {"/sys/fs/cgroup/memory/lode/" + spec_.name + "/memory.max_usage_in_bytes",
        "/sys/fs/cgroup/lode/" + spec_.name + "/memory.peak"}) {
    Result<std::string> text = ReadFileToString(file);
    if (text.ok()) return std::strtoull(text->c_str(), nullptr, 10);
  }
  return 0;
}

Result<ContainerRun> RunContainer(const std::string& rootfs, const ProcessSpec& process,
                                  bool writable, const std::string& work_dir, Runtime runtime) {
  bool crun = IsExecutableOnPath("crun");
  if (runtime == Runtime::kAuto) runtime = crun ? Runtime::kCrun : Runtime::kChroot;
  if (runtime == Runtime::kChroot) return RunWithChroot(rootfs, process);
  if (!crun) return Status::InvalidArgument("crun is not installed (try --runtime chroot)");
  return RunWithCrun(rootfs, process, writable, work_dir);
}

Result<Runtime> ParseRuntime(const std::string& name) {
  if (name == "auto") return Runtime::kAuto;
  if (name == "crun") return Runtime::kCrun;
  if (name == "chroot") return Runtime::kChroot;
  return Status::InvalidArgument("unknown runtime '" + name + "' (auto, crun or chroot)");
}

}  // namespace lode::sandbox
