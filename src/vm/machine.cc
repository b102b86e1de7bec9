#include "vm/machine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "sandbox/process.h"
#include "util/child.h"
#include "util/file.h"
#include "util/sha256.h"
#include "util/text.h"
#include "util/unix_socket.h"
#include "vm/qmp.h"
#include "vm/run_spec.h"

namespace lode::vm {
namespace {

using Clock = std::chrono::steady_clock;

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

struct Port {
  const char* name;
  std::string socket;
};

// A path for /bin/sh (QEMU runs exec: migration URIs with it).
std::string ShellWord(const std::string& path) {
  std::string out = "'";
  for (char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// QEMU's arguments. With `signature` every path, and what differs between
// taking a snapshot and restoring it by design, is left out: what remains
// shapes the device state.
std::vector<std::string> QemuArgs(const VmConfig& c, const std::vector<Port>& ports,
                                  bool signature = false) {
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
  for (const char* name : {kStdoutPort, kStderrPort, kStdinPort, kStatusPort}) {
    ports.push_back({name, config.work_dir + "/" + name + ".sock"});
  }
  return ports;
}

// The last non-empty line of a log, for an error message.
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!Trim(line).empty()) last = Trim(line);
  }
  return Excerpt(last);
}

class Qemu {
 public:
  ~Qemu() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  Status Start(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t lode = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return Status::FromErrno(errno, "fork QEMU");
    if (pid_ == 0) {
      EndWithParent(lode, SIGKILL);  // a VM nobody relays for would run on forever
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      int null = ::open("/dev/null", O_RDONLY);
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(null, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execvp(argv[0], argv.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) return Status::FromErrno(errno, "watch QEMU");
    return Status::Ok();
  }

  int pidfd() const { return pidfd_; }
  bool Exited() const {
    pollfd p{pidfd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  void Kill() const { ::kill(pid_, SIGKILL); }
  // QEMU's exit status (waits for it).
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return sandbox::ExitCodeOf(status);
  }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// Connects to a port's socket once QEMU listens on it.
Result<UniqueFd> ConnectPort(const Qemu& qemu, const std::string& path) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    if (qemu.Exited()) return Status::Unavailable("QEMU ended before the VM started");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Unavailable("QEMU did not open " + path + " within 30 s");
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Moves bytes between the ports and this process until QEMU exits (or, for
// a snapshot, until the command is ready), noting when each status line
// arrived.
class Relay {
 public:
  enum class Mode {
    kRun,       // stdin relayed from the start
    kSnapshot,  // no stdin; stdout and stderr to our stderr; ends when ready
    kRestore,   // stdin relayed once the guest reported its reseed
  };

  Relay(Mode mode, Qemu& qemu, QmpClient& qmp, std::vector<UniqueFd> ports, int signal_fd)
      : mode_(mode),
        qemu_(qemu),
        qmp_(qmp),
        out_(std::move(ports[0])),
        err_(std::move(ports[1])),
        in_(std::move(ports[2])),
        status_(std::move(ports[3])),
        signal_fd_(signal_fd),
        stdin_open_(mode == Mode::kRun),
        out_to_(mode == Mode::kSnapshot ? 2 : 1) {}

  void SetReady(const ReadyWhen& ready) { ready_when_ = ready; }
  void Note(const std::string& event) { events_.emplace_back(event, Clock::now()); }

  // Until QEMU exits, then whatever the ports still hold; in kSnapshot
  // mode until the command is ready (or a deadline passed: timed_out()).
  void Run() {
    Clock::time_point started = Clock::now();
    while (!ready_) {
      std::vector<pollfd> fds;
      auto watch = [&](int fd, short events) {
        if (fd >= 0) fds.push_back({fd, events, 0});
      };
      watch(out_.get(), POLLIN);
      watch(err_.get(), POLLIN);
      watch(status_.get(), POLLIN);
      if (in_.valid() && stdin_open_) {
        watch(pending_.empty() ? 0 : in_.get(), pending_.empty() ? POLLIN : POLLOUT);
      }
      watch(signal_fd_, POLLIN);
      watch(qmp_open_ ? qmp_.fd() : -1, POLLIN);
      watch(qemu_.pidfd(), POLLIN);
      int timeout = TimeoutMs(started);
      if (timeout == 0) return;
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
      for (const pollfd& p : fds) {
        if (p.revents == 0) continue;
        if (p.fd == qemu_.pidfd()) {
          Drain();
          return;
        }
        Handle(p.fd);
      }
    }
  }

  const std::vector<std::pair<std::string, Clock::time_point>>& events() const { return events_; }
  int stopped_by() const { return stopped_by_; }
  const std::string& io_error() const { return io_error_; }
  bool ready() const { return ready_; }
  bool timed_out() const { return timed_out_; }

 private:
  // How long poll may wait (-1: no limit); 0 once the command is ready or
  // a deadline passed (timed_out(): QEMU is killed).
  int TimeoutMs(Clock::time_point started) {
    std::optional<Clock::time_point> ready_at, give_up_at;
    if (mode_ == Mode::kSnapshot) {
      give_up_at = started + Seconds(ready_when_.timeout_seconds);
      if (ready_when_.after_seconds >= 0 && started_at_) {
        ready_at = *started_at_ + Seconds(ready_when_.after_seconds);
      }
    } else if (mode_ == Mode::kRestore && !stdin_open_) {
      give_up_at = started + std::chrono::seconds(kReseedTimeoutSeconds);
    }
    Clock::time_point now = Clock::now();
    if (ready_at && now >= *ready_at) ready_ = true;
    if (ready_) return 0;
    if (give_up_at && now >= *give_up_at) {
      timed_out_ = true;
      qemu_.Kill();
      return 0;
    }
    std::optional<Clock::time_point> next = give_up_at;
    if (ready_at && (!next || *ready_at < *next)) next = ready_at;
    if (!next) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
    return static_cast<int>(std::max<int64_t>(left, 1));
  }

  static Clock::duration Seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  void Handle(int fd) {
    if (qmp_open_ && fd == qmp_.fd()) return ReadQmp();
    if (fd == out_.get()) return Forward(out_, out_to_);
    if (fd == err_.get()) return Forward(err_, 2);
    if (fd == status_.get()) return ReadStatus();
    if (fd == signal_fd_) return Stop();
    if (fd == 0) return ReadStdin();
    if (fd == in_.get()) return WriteStdin();
  }

  // What `fd` holds now ("" when interrupted); nothing at its end or on an
  // error.
  static std::optional<std::string> ReadSome(int fd) {
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) return std::string();
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

  void Forward(UniqueFd& from, int to) {
    std::optional<std::string> bytes = ReadSome(from.get());
    if (!bytes) return from.Reset();
    (void)WriteAll(to, bytes->data(), bytes->size());
    if (&from == &out_ && !ready_when_.marker.empty()) WatchForMarker(*bytes);
  }

  // The marker may arrive split across reads: the tail of the last read
  // is kept.
  void WatchForMarker(const std::string& bytes) {
    const std::string& marker = ready_when_.marker;
    marker_window_ += bytes;
    if (marker_window_.find(marker) != std::string::npos) ready_ = true;
    if (marker_window_.size() >= marker.size()) {
      marker_window_.erase(0, marker_window_.size() - (marker.size() - 1));
    }
  }

  void ReadStatus() {
    std::optional<std::string> bytes = ReadSome(status_.get());
    if (!bytes) return status_.Reset();
    status_text_ += *bytes;
    for (size_t nl; (nl = status_text_.find('\n')) != std::string::npos;) {
      std::string event = status_text_.substr(0, nl);
      status_text_.erase(0, nl + 1);
      if (event == "start") started_at_ = Clock::now();
      if (event.rfind(kForkedEvent, 0) == 0) stdin_open_ = mode_ == Mode::kRestore;
      Note(event);
    }
  }

  void ReadStdin() {
    std::optional<std::string> bytes = ReadSome(0);
    if (!bytes) {
      // Half-closed, not closed: QEMU drops what the socket still holds
      // when its peer hangs up before the guest opened the port; with only
      // our side shut it delivers the rest, then the guest reads EOF.
      in_shut_ = std::move(in_);
      ::shutdown(in_shut_.get(), SHUT_WR);
      return;
    }
    pending_ = std::move(*bytes);
  }

  void WriteStdin() {
    ssize_t n = ::send(in_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) {
      in_.Reset();
      pending_.clear();
      return;
    }
    pending_.erase(0, static_cast<size_t>(n));
  }

  // The disk runs with rerror=stop: a read of the image that failed (the
  // agent could not fetch a chunk) pauses the VM rather than handing the
  // guest an error; lode ends it and says so.
  void ReadQmp() {
    Result<std::vector<nlohmann::json>> events = qmp_.ReadEvents();
    if (!events.ok()) {
      qmp_open_ = false;
      return;
    }
    for (const nlohmann::json& e : *events) {
      if (e.value("event", "") != "BLOCK_IO_ERROR" || !io_error_.empty()) continue;
      nlohmann::json data = e.value("data", nlohmann::json::object());
      io_error_ = data.value("reason", std::string("I/O error"));
      qemu_.Kill();
    }
  }

  void Stop() {
    signalfd_siginfo info{};
    if (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
      stopped_by_ = static_cast<int>(info.ssi_signo);
    }
    qemu_.Kill();
  }

  // After QEMU exited: the sockets hold the rest of the output.
  void Drain() {
    while (out_.valid()) Forward(out_, out_to_);
    while (err_.valid()) Forward(err_, 2);
    while (status_.valid()) ReadStatus();
  }

  static constexpr int kReseedTimeoutSeconds = 30;

  Mode mode_;
  Qemu& qemu_;
  QmpClient& qmp_;
  bool qmp_open_ = true;
  std::string io_error_;
  UniqueFd out_, err_, in_, status_;
  UniqueFd in_shut_;  // stdin after its end: shut for writing, kept open
  int signal_fd_;
  bool stdin_open_;
  int out_to_;           // where the command's stdout goes: ours, or our stderr while snapshotting
  std::string pending_;  // stdin bytes not yet taken by the guest
  std::string status_text_;
  std::vector<std::pair<std::string, Clock::time_point>> events_;
  int stopped_by_ = 0;
  ReadyWhen ready_when_;
  std::string marker_window_;
  std::optional<Clock::time_point> started_at_;
  bool ready_ = false, timed_out_ = false;
};

// Blocks SIGINT and SIGTERM for the run and delivers them on a descriptor;
// SIGPIPE is ignored (a closed stdout must not kill lode before it stops
// the VM).
class StopSignals {
 public:
  StopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, &old_mask_);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
    old_pipe_ = ::signal(SIGPIPE, SIG_IGN);
  }
  ~StopSignals() {
    ::close(fd_);
    ::signal(SIGPIPE, old_pipe_);
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  int fd() const { return fd_; }

 private:
  sigset_t old_mask_;
  int fd_;
  sighandler_t old_pipe_;
};

// What QEMU or the guest said last, for an error message.
std::string LastWords(const std::string& work_dir) {
  std::string said = LastLine(work_dir + "/qemu.log");
  if (said.empty()) said = LastLine(work_dir + "/console.log");
  return said.empty() ? "" : ": " + said;
}

// QEMU dies of SIGBUS when it or the guest touches memory the agent could
// not read from a snapshot: a guest never runs on missing or damaged memory.
Status MemoryReadFailed() {
  return Status::Unavailable(
      "the VM was stopped: reading the snapshot's memory failed (the agent could not fetch or "
      "verify a chunk; see its log)");
}

Result<VmRun> Outcome(const Relay& relay, int qemu_status, Clock::time_point spawned,
                      Clock::time_point ready, const std::string& work_dir) {
  VmRun run;
  run.vmm_seconds = std::chrono::duration<double>(ready - spawned).count();
  Clock::time_point last = ready;
  std::string error;
  bool exited = false;
  for (const auto& [event, at] : relay.events()) {
    double since = std::chrono::duration<double>(at - last).count();
    last = at;
    if (event == "init" || event == "restored") {
      run.boot_seconds = since;
    } else if (event == "start") {
      run.start_seconds = since;
    } else if (event.rfind(kForkedEvent, 0) == 0) {
      run.start_seconds = since;
      run.forked = event.substr(std::strlen(kForkedEvent) + 1);
    } else if (event.rfind("exit=", 0) == 0) {
      run.run_seconds = since;
      run.exit_code = std::atoi(event.c_str() + 5);
      exited = true;
    } else if (event.rfind("error=", 0) == 0) {
      error = event.substr(6);
    }
  }
  if (relay.stopped_by() != 0) {
    run.exit_code = 128 + relay.stopped_by();
    return run;
  }
  if (!relay.io_error().empty()) {
    return Status::Unavailable("the VM was stopped: reading the image failed (" +
                               Excerpt(relay.io_error()) +
                               "): the agent could not fetch its data (see its log)");
  }
  if (exited) return run;
  if (!error.empty()) return Status::Unavailable("the VM's init failed: " + Excerpt(error));
  if (relay.timed_out()) {
    return Status::Unavailable(
        "the restored guest did not confirm reseeding its RNG: stopped, so that clones never "
        "share random state");
  }
  if (qemu_status == 128 + SIGBUS) return MemoryReadFailed();
  return Status::Unavailable("the VM ended without the command's exit status (QEMU exit " +
                             std::to_string(qemu_status) + ")" + LastWords(work_dir));
}

// A started QEMU with lode connected to its ports and its QMP socket.
struct StartedVm {
  Qemu qemu;
  std::vector<UniqueFd> ports;  // stdout, stderr, stdin, status
  std::optional<QmpClient> qmp;
  Clock::time_point spawned, ready;
};

Status Start(const VmConfig& config, StartedVm& vm) {
  std::vector<Port> ports = PortsOf(config);
  vm.spawned = Clock::now();
  LODE_RETURN_IF_ERROR(vm.qemu.Start(QemuArgs(config, ports), config.work_dir + "/qemu.log"));
  for (const Port& p : ports) {
    Result<UniqueFd> fd = ConnectPort(vm.qemu, p.socket);
    if (!fd.ok()) return Status::Unavailable(fd.status().message() + LastWords(config.work_dir));
    vm.ports.push_back(std::move(*fd));
  }
  vm.ready = Clock::now();
  LODE_ASSIGN_OR_RETURN(
      QmpClient qmp, QmpClient::Connect(config.work_dir + "/qmp.sock", std::chrono::seconds(30)));
  vm.qmp.emplace(std::move(qmp));
  return Status::Ok();
}

// Waits for the migration (outgoing or incoming) to complete.
Status AwaitMigration(QmpClient& qmp, const std::string& what) {
  auto deadline = Clock::now() + std::chrono::minutes(5);
  while (Clock::now() < deadline) {
    LODE_ASSIGN_OR_RETURN(nlohmann::json info, qmp.Execute("query-migrate"));
    std::string status = info.value("status", "");
    if (status == "completed") return Status::Ok();
    if (status == "failed" || status == "cancelled") {
      return Status::Unavailable(what + " failed: " + info.value("error-desc", status));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Unavailable(what + " did not complete within 5 minutes");
}

// Only device state travels: guest memory is the shared (taking) or
// privately mapped (restoring) memory file.
Status IgnoreSharedMemory(QmpClient& qmp) {
  return qmp
      .Execute("migrate-set-capabilities",
               {{"capabilities", {{{"capability", "x-ignore-shared"}, {"state", true}}}}})
      .status();
}

// Loads the snapshot's device state into the paused VM and resumes it.
Status Restore(const VmConfig& config, StartedVm& vm) {
  QmpClient& qmp = *vm.qmp;
  LODE_RETURN_IF_ERROR(IgnoreSharedMemory(qmp));
  Status loaded =
      qmp.Execute("migrate-incoming", {{"uri", "exec:cat " + ShellWord(config.incoming_state)}})
          .status();
  if (loaded.ok()) loaded = AwaitMigration(qmp, "loading the device state");
  if (!loaded.ok()) {
    // Loading device state reads guest memory (virtio rings): a chunk the
    // agent cannot serve kills QEMU with SIGBUS already here.
    vm.qemu.Kill();
    if (vm.qemu.Wait() == 128 + SIGBUS) return MemoryReadFailed();
    return Status::Unavailable("QEMU could not restore the snapshot" + LastWords(config.work_dir));
  }
  LODE_RETURN_IF_ERROR(qmp.Execute("cont").status());
  // Every clone gets entropy of its own before it reads any input.
  std::array<uint8_t, 32> entropy;
  if (::getrandom(entropy.data(), entropy.size(), 0) != static_cast<ssize_t>(entropy.size())) {
    return Status::FromErrno(errno, "getrandom");
  }
  std::string request = std::string(kReseedRequest) + ToHex(entropy) + "\n";
  if (!WriteAll(vm.ports[3].get(), request.data(), request.size())) {
    return Status::FromErrno(errno, "ask the guest to reseed");
  }
  return Status::Ok();
}

}  // namespace

Status CheckQemu(const std::string& qemu) {
  if (!IsExecutableOnPath(qemu)) {
    return Status::NotFound(qemu + " not found: install qemu-system-x86 (scripts/install-deps.sh)");
  }
  return Status::Ok();
}

Result<std::string> QemuVersion(const std::string& qemu) {
  std::string version;
  if (FILE* out = ::popen((ShellWord(qemu) + " --version 2>/dev/null").c_str(), "re")) {
    char line[256] = "";
    if (std::fgets(line, sizeof(line), out) != nullptr) version = Trim(line);
    ::pclose(out);
  }
  if (version.empty()) return Status::Unavailable(qemu + " --version said nothing");
  return version;
}

std::string DeviceSignature(const VmConfig& config, const std::string& qemu_version) {
  std::string signature = qemu_version;
  std::vector<std::string> args = QemuArgs(config, PortsOf(config), /*signature=*/true);
  for (size_t i = 1; i < args.size(); ++i) signature += " " + args[i];
  return signature;
}

Result<VmRun> RunVm(const VmConfig& config) {
  bool restore = !config.incoming_state.empty();
  StopSignals signals;
  StartedVm vm;
  LODE_RETURN_IF_ERROR(Start(config, vm));
  if (restore) LODE_RETURN_IF_ERROR(Restore(config, vm));
  Relay relay(restore ? Relay::Mode::kRestore : Relay::Mode::kRun, vm.qemu, *vm.qmp,
              std::move(vm.ports), signals.fd());
  if (restore) relay.Note("restored");
  relay.Run();
  int qemu_status = vm.qemu.Wait();
  return Outcome(relay, qemu_status, vm.spawned, vm.ready, config.work_dir);
}

Result<SavedVm> SnapshotVm(const VmConfig& config, const ReadyWhen& ready,
                           const std::string& state_file) {
  StopSignals signals;
  StartedVm vm;
  LODE_RETURN_IF_ERROR(Start(config, vm));
  Relay relay(Relay::Mode::kSnapshot, vm.qemu, *vm.qmp, std::move(vm.ports), signals.fd());
  relay.SetReady(ready);
  relay.Run();
  if (!relay.ready()) {
    int qemu_status = vm.qemu.Wait();
    Result<VmRun> ended = Outcome(relay, qemu_status, vm.spawned, vm.ready, config.work_dir);
    if (relay.stopped_by() != 0) return SavedVm{.stopped_by = relay.stopped_by()};
    if (relay.timed_out()) {
      return Status::Unavailable("the command was not ready within " +
                                 std::to_string(static_cast<int>(ready.timeout_seconds)) + " s");
    }
    if (ended.ok()) {
      return Status::Unavailable("the command exited (status " + std::to_string(ended->exit_code) +
                                 ") before it was ready");
    }
    return ended.status();
  }
  SavedVm saved;
  Clock::time_point t = Clock::now();
  saved.boot_seconds = std::chrono::duration<double>(t - vm.spawned).count();
  QmpClient& qmp = *vm.qmp;
  LODE_RETURN_IF_ERROR(qmp.Execute("stop").status());
  LODE_RETURN_IF_ERROR(IgnoreSharedMemory(qmp));
  LODE_RETURN_IF_ERROR(
      qmp.Execute("migrate", {{"uri", "exec:cat > " + ShellWord(state_file)}}).status());
  LODE_RETURN_IF_ERROR(AwaitMigration(qmp, "saving the device state"));
  (void)qmp.Execute("quit");
  vm.qemu.Wait();
  saved.save_seconds = std::chrono::duration<double>(Clock::now() - t).count();
  std::error_code ec;
  saved.state_bytes = std::filesystem::file_size(state_file, ec);
  if (ec || saved.state_bytes == 0) return Status::Unavailable("QEMU wrote no device state");
  return saved;
}

}  // namespace lode::vm
