#include "vm/machine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "sandbox/container.h"
#include "util/file.h"
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

std::vector<std::string> QemuArgs(const VmConfig& c, const std::vector<Port>& ports) {
  bool kvm = c.accel == Accel::kKvm;
  std::string append = "console=ttyS0 quiet panic=-1 reboot=t random.trust_cpu=on";
  if (!kvm) {
    std::string khz = TscKhz();
    if (!khz.empty()) append += " tsc_early_khz=" + khz;
  }
  std::vector<std::string> args = {
      c.qemu,
      "-M",
      "microvm",
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
      c.kernel,
      "-initrd",
      c.initramfs,
      "-append",
      append,
      "-serial",
      "file:" + c.work_dir + "/console.log",
      "-drive",
      "id=root,file=" + c.disk + ",format=raw,if=none,readonly=on,cache=none,rerror=stop",
      "-device",
      "virtio-blk-device,drive=root",
      "-device",
      "virtio-serial-device"};
  args.insert(args.end(), {"-qmp", "unix:" + c.work_dir + "/qmp.sock,server=on,wait=off"});
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string id = "port" + std::to_string(i);
    args.insert(args.end(),
                {"-chardev", "socket,id=" + id + ",path=" + ports[i].socket + ",server=on,wait=on",
                 "-device", "virtserialport,chardev=" + id + ",name=" + ports[i].name});
  }
  return args;
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
    pid_ = ::fork();
    if (pid_ < 0) return Status::FromErrno(errno, "fork QEMU");
    if (pid_ == 0) {
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

// Moves bytes between the ports and this process until QEMU exits, noting
// when each status line arrived.
class Relay {
 public:
  Relay(Qemu& qemu, QmpClient& qmp, UniqueFd in, UniqueFd out, UniqueFd err, UniqueFd status,
        int signal_fd)
      : qemu_(qemu),
        qmp_(qmp),
        in_(std::move(in)),
        out_(std::move(out)),
        err_(std::move(err)),
        status_(std::move(status)),
        signal_fd_(signal_fd) {}

  // Until QEMU exits; then whatever the ports still hold.
  void Run() {
    while (true) {
      std::vector<pollfd> fds;
      auto watch = [&](int fd, short events) {
        if (fd >= 0) fds.push_back({fd, events, 0});
      };
      watch(out_.get(), POLLIN);
      watch(err_.get(), POLLIN);
      watch(status_.get(), POLLIN);
      if (in_.valid()) watch(pending_.empty() ? 0 : in_.get(), pending_.empty() ? POLLIN : POLLOUT);
      watch(signal_fd_, POLLIN);
      watch(qmp_open_ ? qmp_.fd() : -1, POLLIN);
      watch(qemu_.pidfd(), POLLIN);
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
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

 private:
  void Handle(int fd) {
    if (qmp_open_ && fd == qmp_.fd()) return ReadQmp();
    if (fd == out_.get()) return Forward(out_, 1);
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
  }

  void ReadStatus() {
    std::optional<std::string> bytes = ReadSome(status_.get());
    if (!bytes) return status_.Reset();
    status_text_ += *bytes;
    for (size_t nl; (nl = status_text_.find('\n')) != std::string::npos;) {
      events_.emplace_back(status_text_.substr(0, nl), Clock::now());
      status_text_.erase(0, nl + 1);
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
    while (out_.valid()) Forward(out_, 1);
    while (err_.valid()) Forward(err_, 2);
    while (status_.valid()) ReadStatus();
  }

  Qemu& qemu_;
  QmpClient& qmp_;
  bool qmp_open_ = true;
  std::string io_error_;
  UniqueFd in_, out_, err_, status_;
  UniqueFd in_shut_;  // stdin after its end: shut for writing, kept open
  int signal_fd_;
  std::string pending_;  // stdin bytes not yet taken by the guest
  std::string status_text_;
  std::vector<std::pair<std::string, Clock::time_point>> events_;
  int stopped_by_ = 0;
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
    if (event == "init") {
      run.boot_seconds = since;
    } else if (event == "start") {
      run.start_seconds = since;
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
  std::string said = LastLine(work_dir + "/qemu.log");
  if (said.empty()) said = LastLine(work_dir + "/console.log");
  return Status::Unavailable("the VM ended without the command's exit status (QEMU exit " +
                             std::to_string(qemu_status) + ")" + (said.empty() ? "" : ": " + said));
}

}  // namespace

Status CheckQemu(const std::string& qemu) {
  if (!IsExecutableOnPath(qemu)) {
    return Status::NotFound(qemu + " not found: install qemu-system-x86 (scripts/install-deps.sh)");
  }
  return Status::Ok();
}

Result<VmRun> RunVm(const VmConfig& config) {
  std::vector<Port> ports;
  for (const char* name : {kStdoutPort, kStderrPort, kStdinPort, kStatusPort}) {
    ports.push_back({name, config.work_dir + "/" + name + ".sock"});
  }
  StopSignals signals;
  Qemu qemu;
  Clock::time_point spawned = Clock::now();
  LODE_RETURN_IF_ERROR(qemu.Start(QemuArgs(config, ports), config.work_dir + "/qemu.log"));
  std::vector<UniqueFd> fds;
  for (const Port& p : ports) {
    Result<UniqueFd> fd = ConnectPort(qemu, p.socket);
    if (!fd.ok()) {
      std::string said = LastLine(config.work_dir + "/qemu.log");
      return Status::Unavailable(fd.status().message() + (said.empty() ? "" : ": " + said));
    }
    fds.push_back(std::move(*fd));
  }
  Clock::time_point ready = Clock::now();
  Result<QmpClient> qmp =
      QmpClient::Connect(config.work_dir + "/qmp.sock", std::chrono::seconds(30));
  if (!qmp.ok()) return qmp.status();
  Relay relay(qemu, *qmp, std::move(fds[2]), std::move(fds[0]), std::move(fds[1]),
              std::move(fds[3]), signals.fd());
  relay.Run();
  int qemu_status = qemu.Wait();
  return Outcome(relay, qemu_status, spawned, ready, config.work_dir);
}

}  // namespace lode::vm
