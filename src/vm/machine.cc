#include "vm/machine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
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
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "sandbox/process.h"
#include "util/child.h"
#include "util/file.h"
#include "util/sha256.h"
#include "util/text.h"
#include "util/unix_socket.h"
#include "vm/qemu_args.h"
#include "vm/qemu_process.h"
#include "vm/qmp.h"
#include "vm/relay.h"
#include "vm/run_spec.h"
#include "vm/runtime_relay.h"

namespace lode::vm {
namespace {

// The last non-empty line of a log, for an error message.
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!Trim(line).empty()) last = Trim(line);
  }
  return Excerpt(last);
}

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

Relay::Output WriterTo(int fd) {
  return [fd](std::string_view bytes) { (void)WriteAll(fd, bytes); };
}

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
  Qemu::Options options;
  options.network_namespace = config.network_namespace;
  options.small_pages = !config.memory_file.empty() && !config.memory_shared;
  LODE_RETURN_IF_ERROR(
      vm.qemu.Start(QemuArgs(config, ports), config.work_dir + "/qemu.log", options));
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
  if (config.state_loaded) config.state_loaded();
  LODE_RETURN_IF_ERROR(qmp.Execute("cont").status());
  // Every clone gets entropy of its own before it reads any input.
  std::array<uint8_t, 32> entropy;
  if (::getrandom(entropy.data(), entropy.size(), 0) != static_cast<ssize_t>(entropy.size())) {
    return Status::FromErrno(errno, "getrandom");
  }
  std::string request = std::string(kReseedRequest) + ToHex(entropy) + "\n";
  if (!WriteAll(vm.ports[3].get(), request)) {
    return Status::FromErrno(errno, "ask the guest to reseed");
  }
  return Status::Ok();
}

// Pauses the VM, has QEMU write its device state to `state_file` (guest
// memory is the shared memory file) and ends QEMU.
Result<SavedVm> SaveAndQuit(StartedVm& vm, const std::string& state_file) {
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

Result<VmRun> RunVm(const VmConfig& config) {
  bool restore = !config.incoming_state.empty();
  StopSignals signals;
  StartedVm vm;
  LODE_RETURN_IF_ERROR(Start(config, vm));
  if (restore) LODE_RETURN_IF_ERROR(Restore(config, vm));
  Relay relay(restore ? Relay::Mode::kRestore : Relay::Mode::kRun, vm.qemu, *vm.qmp,
              std::move(vm.ports), signals.fd(), WriterTo(1), WriterTo(2));
  if (restore) relay.Note("restored");
  relay.Run();
  int qemu_status = vm.qemu.Wait();
  return Outcome(relay, qemu_status, vm.spawned, vm.ready, config.work_dir);
}

// QEMU is started by the VM's own thread, which lives as long as the VM:
// the parent-death signal QEMU gets fires when the thread that forked it
// ends, and a host's request threads come and go.
class BackgroundVm::Impl {
 public:
  Status Start(const VmConfig& config, Relay::Output output,
               const std::string& runtime_api_socket) {
    work_dir_ = config.work_dir;
    std::promise<Status> started;
    std::future<Status> result = started.get_future();
    save_request_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!save_request_.valid()) return Status::FromErrno(errno, "eventfd");
    bool restore = !config.incoming_state.empty();
    thread_ = std::thread([&, output, restore] {
      Status s = vm::Start(config, vm_);
      if (s.ok() && config.runtime_api) {
        Result<std::unique_ptr<RuntimeRelay>> relay =
            RuntimeRelay::Start(std::move(vm_.ports[4]), runtime_api_socket);
        s = relay.status();
        if (relay.ok()) runtime_ = std::move(*relay);
      }
      if (s.ok() && restore) s = Restore(config, vm_);
      if (s.ok()) {
        relay_.emplace(restore ? Relay::Mode::kBackgroundRestore : Relay::Mode::kBackground,
                       vm_.qemu, *vm_.qmp, std::move(vm_.ports), -1, output, output);
        relay_->WatchReady(save_request_.get());
        if (restore) relay_->Note("restored");
      }
      started.set_value(s);
      if (!s.ok()) return;
      relay_->Run();
      if (relay_->ready()) {
        saved_.set_value(vm::SaveAndQuit(vm_, state_file_));
      } else {
        saved_.set_value(Status::Unavailable("the VM ended before it was saved"));
      }
      qemu_status_ = vm_.qemu.Wait();
    });
    return result.get();
  }
  Result<SavedVm> Save(const std::string& state_file) {
    state_file_ = state_file;
    uint64_t one = 1;
    if (::write(save_request_.get(), &one, sizeof(one)) != sizeof(one)) {
      return Status::FromErrno(errno, "ask the VM's thread to save it");
    }
    return saved_.get_future().get();
  }
  ~Impl() {
    Kill();
    if (thread_.joinable()) thread_.join();
  }
  void Kill() { vm_.qemu.Kill(); }
  Result<VmRun> Wait() {
    if (thread_.joinable()) thread_.join();
    runtime_.reset();
    if (!relay_) return Status::FailedPrecondition("the VM did not start");
    return Outcome(*relay_, qemu_status_, vm_.spawned, vm_.ready, work_dir_);
  }
  uint64_t PeakMemoryBytes() const {
    pid_t pid = vm_.qemu.pid();
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; pid > 0 && std::getline(in, line);) {
      if (line.rfind("VmHWM:", 0) == 0) {
        peak_kib_ = std::max<uint64_t>(peak_kib_, std::stoull(line.substr(6)));
      }
    }
    return peak_kib_ << 10;
  }

 private:
  std::string work_dir_;
  UniqueFd save_request_;
  std::string state_file_;  // written before save_request_ is signalled
  std::promise<Result<SavedVm>> saved_;
  StartedVm vm_;
  std::unique_ptr<RuntimeRelay> runtime_;
  std::optional<Relay> relay_;
  std::thread thread_;
  int qemu_status_ = 0;
  mutable uint64_t peak_kib_ = 0;
};

Result<std::unique_ptr<BackgroundVm>> BackgroundVm::Start(
    const VmConfig& config, std::function<void(std::string_view)> output,
    const std::string& runtime_api_socket) {
  auto impl = std::make_unique<Impl>();
  LODE_RETURN_IF_ERROR(impl->Start(config, std::move(output), runtime_api_socket));
  return std::unique_ptr<BackgroundVm>(new BackgroundVm(std::move(impl)));
}

BackgroundVm::BackgroundVm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BackgroundVm::~BackgroundVm() = default;
void BackgroundVm::Kill() { impl_->Kill(); }
Result<VmRun> BackgroundVm::Wait() { return impl_->Wait(); }
uint64_t BackgroundVm::PeakMemoryBytes() const { return impl_->PeakMemoryBytes(); }
Result<SavedVm> BackgroundVm::SaveAndQuit(const std::string& state_file) {
  return impl_->Save(state_file);
}

Result<SavedVm> SnapshotVm(const VmConfig& config, const ReadyWhen& ready,
                           const std::string& state_file) {
  StopSignals signals;
  StartedVm vm;
  LODE_RETURN_IF_ERROR(Start(config, vm));
  // What the command prints before it is ready goes to our stderr.
  Relay relay(Relay::Mode::kSnapshot, vm.qemu, *vm.qmp, std::move(vm.ports), signals.fd(),
              WriterTo(2), WriterTo(2));
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
  return SaveAndQuit(vm, state_file);
}

}  // namespace lode::vm
