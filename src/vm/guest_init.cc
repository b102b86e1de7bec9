// The microVM's PID 1, a static binary in lode's initramfs: it loads the
// kernel modules lode put beside it, sets up the network, mounts the
// image's disk (read-only, or under a tmpfs overlay with --rw), gives the
// command /proc, /sys, /dev and /tmp, runs it with the image's env,
// working directory and user and its stdio on virtio-serial ports, reaps
// every process, reports the exit status on the status port and resets
// the VM (QEMU runs with -no-reboot, so a reset ends it). It relies on
// nothing inside the image.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/random.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/process.h"
#include "util/file.h"
#include "util/text.h"
#include "vm/guest_network.h"
#include "vm/guest_runtime_relay.h"
#include "vm/run_spec.h"

namespace lode::vm {
namespace {

constexpr const char* kNewRoot = "/newroot";

// One line on the status port; the host reads them as events.
class StatusPort {
 public:
  void Open(int fd) { fd_ = fd; }
  int fd() const { return fd_; }
  void Say(const std::string& line) const {
    if (fd_ < 0) return;
    std::string text = line + "\n";
    (void)!::write(fd_, text.data(), text.size());
  }

 private:
  int fd_ = -1;
};

StatusPort status_port;

[[noreturn]] void PowerOff() {
  ::sync();
  ::reboot(RB_AUTOBOOT);  // -no-reboot turns the reset into QEMU's exit
  for (;;) ::pause();
}

[[noreturn]] void Fail(const std::string& message) {
  status_port.Say("error=" + message);
  PowerOff();
}

void Check(const Status& s) {
  if (!s.ok()) Fail(s.message());
}

void MountOrFail(const char* source, const std::string& target, const char* type,
                 unsigned long flags, const char* data) {
  ::mkdir(target.c_str(), 0755);
  if (::mount(source, target.c_str(), type, flags, data) != 0) {
    Fail(std::string("mount ") + type + " on " + target + ": " + std::strerror(errno));
  }
}

bool WaitForPath(const std::string& path, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (::access(path.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Loads lode/modules/*.ko in name order (lode numbers them so that every
// module comes after the ones it needs).
void LoadModules() {
  std::map<std::string, std::string> modules;
  std::string dir = std::string("/") + kGuestModuleDir;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') modules[e->d_name] = dir + "/" + e->d_name;
    }
    ::closedir(d);
  }
  for (const auto& [name, path] : modules) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail("open " + path + ": " + std::strerror(errno));
    if (::syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
      Fail("load module " + name + ": " + std::strerror(errno));
    }
    ::close(fd);
  }
}

// The virtio-serial port named `name`, opened with `flags`; the devices
// appear asynchronously after virtio_console loads.
int OpenPort(const std::string& name, int flags) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (DIR* d = ::opendir("/sys/class/virtio-ports")) {
      while (dirent* e = ::readdir(d)) {
        std::string dev = e->d_name;
        Result<std::string> port_name =
            ReadFileToString("/sys/class/virtio-ports/" + dev + "/name");
        if (!port_name.ok() || port_name->substr(0, port_name->find('\n')) != name) continue;
        ::closedir(d);
        if (!WaitForPath("/dev/" + dev, std::chrono::seconds(5))) Fail("no /dev/" + dev);
        int fd = ::open(("/dev/" + dev).c_str(), flags | O_CLOEXEC);
        if (fd < 0) Fail("open port " + name + ": " + std::strerror(errno));
        return fd;
      }
      ::closedir(d);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Fail("virtio-serial port " + name + " did not appear");
}

// The image's file system at kNewRoot: the disk read-only; under a tmpfs
// overlay taking the writes (they vanish with the VM) with --rw; and under
// `files` (what the network setup wrote) when there is such a directory.
void MountRoot(bool writable, const std::string& files) {
  if (!WaitForPath("/dev/vda", std::chrono::seconds(10))) Fail("the root disk did not appear");
  bool overlay = writable || !files.empty();
  std::string lower = overlay ? "/lode/lower" : kNewRoot;
  MountOrFail("/dev/vda", lower, "ext4", MS_RDONLY, "noload");
  if (!overlay) return;
  std::string layers = "lowerdir=" + (files.empty() ? "" : files + ":") + lower;
  if (writable) {
    MountOrFail("tmpfs", "/lode/rw", "tmpfs", 0, "mode=0755");
    ::mkdir("/lode/rw/upper", 0755);
    ::mkdir("/lode/rw/work", 0755);
    layers += ",upperdir=/lode/rw/upper,workdir=/lode/rw/work";
  }
  MountOrFail("overlay", kNewRoot, "overlay", writable ? 0 : MS_RDONLY, layers.c_str());
}

// Loopback, and with an address the VM's interface; the resolver and
// hosts files it writes lie over the image's root ("" when none).
std::string SetUpNetwork(const GuestNetwork& network) {
  std::string files;
  if (network.enabled()) {
    files = "/lode/net";
    MountOrFail("tmpfs", files, "tmpfs", 0, "mode=0755,size=64k");
  }
  Check(ConfigureGuestNetwork(network, files));
  return files;
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// What a container gets: /proc, /sys, /dev (with pts and shm), /tmp; each
// only where the image has the directory (a read-only root cannot grow one;
// /dev/pts and /dev/shm are made in the fresh devtmpfs).
void MountApiFileSystems() {
  std::string root = kNewRoot;
  auto mount_if_dir = [&](const char* source, const std::string& dir, const char* type,
                          unsigned long flags, const char* data) {
    if (IsDir(root + dir)) MountOrFail(source, root + dir, type, flags, data);
  };
  mount_if_dir("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  mount_if_dir("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr);
  mount_if_dir("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  ::mkdir((root + "/dev/pts").c_str(), 0755);  // devtmpfs has neither
  ::mkdir((root + "/dev/shm").c_str(), 01777);
  mount_if_dir("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
  mount_if_dir("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_if_dir("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

// In the child, on stderr: the command could not be run.
[[noreturn]] void Die(const std::string& what, int code) {
  std::string line = "lode: " + what + "\n";
  (void)!::write(2, line.data(), line.size());
  _exit(code);
}

// In the child: becomes the command. Exit 127 when it cannot be found,
// 126 when it cannot be run, as a shell would.
[[noreturn]] void Exec(const sandbox::ProcessSpec& p, int in, int out, int err) {
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  if (::chroot(kNewRoot) != 0 || ::chdir("/") != 0)
    Die("chroot: " + std::string(strerror(errno)), 1);
  if (::chdir(p.cwd.c_str()) != 0) Die("working directory " + p.cwd + ": " + strerror(errno), 1);
  if (::setgroups(0, nullptr) != 0 || ::setgid(p.gid) != 0 || ::setuid(p.uid) != 0) {
    Die("switch to user " + std::to_string(p.uid) + ": " + strerror(errno), 1);
  }
  ::clearenv();
  for (const std::string& e : p.env) ::putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> argv;
  for (const std::string& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  int e = errno;
  Die(p.args[0] + ": " + strerror(e), e == ENOENT ? 127 : 126);
}

// Appends `line` to the kernel's log, where the guest's own tools
// (dmesg) find it.
void LogToKernel(const std::string& line) {
  int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string record = "<5>lode-init: " + line + "\n";  // 5: notice
  (void)!::write(fd, record.data(), record.size());
  ::close(fd);
}

// The kernel's log from when the init started (the position survives a
// snapshot): where the kernel's own VM-fork reseed is looked for.
int kernel_log = -1;

// Whether the kernel bound a VM generation ID device (QEMU's vmgenid on
// q35): then it reseeds by itself when a restore brings a new ID.
bool HasVmGenerationId() {
  bool found = false;
  if (DIR* d = ::opendir("/sys/bus/acpi/drivers/vmgenid")) {
    while (dirent* e = ::readdir(d)) found = found || std::strchr(e->d_name, ':') != nullptr;
    ::closedir(d);
  }
  return found;
}

// The kernel's own reseed line, waiting up to `limit` for it ("" if it
// did not come): the ACPI notification of the new ID arrives shortly after
// the VM resumes.
std::string AwaitKernelReseed(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  char record[8192];
  while (kernel_log >= 0) {
    ssize_t n = ::read(kernel_log, record, sizeof(record));
    if (n > 0) {
      std::string text(record, static_cast<size_t>(n));
      if (text.find(kKernelReseedLogLine) == std::string::npos) continue;
      std::string message = text.substr(text.find(';') + 1);
      return message.substr(0, message.find('\n'));
    }
    if (n < 0 && errno == EPIPE) continue;  // records were overwritten: go on
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{kernel_log, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
  }
  return "";
}

// The host restored this VM from a snapshot and sent fresh entropy: mix it
// into the kernel's input pool and reseed the CRNG at once, so no random
// bytes handed out from now on repeat those of another clone of the same
// snapshot, whatever the VM's devices. Where the VM has a generation ID
// device the kernel reseeds by itself too; the confirmation waits for that
// (a few seconds at most) and quotes it.
void Reseed(const std::string& hex) {
  constexpr size_t kBytes = 32;
  // rand_pool_info ends in a flexible array: the bytes follow its header.
  alignas(rand_pool_info) uint8_t request[sizeof(rand_pool_info) + kBytes];
  auto* entropy = reinterpret_cast<rand_pool_info*>(request);
  entropy->entropy_count = 8 * kBytes;
  entropy->buf_size = kBytes;
  if (!FromHex(hex, std::span(request).subspan(sizeof(rand_pool_info)))) {
    Fail("bad reseed request from the host");
  }
  int fd = ::open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::ioctl(fd, RNDADDENTROPY, entropy) != 0 || ::ioctl(fd, RNDRESEEDCRNG) != 0) {
    Fail(std::string("reseed the kernel RNG: ") + std::strerror(errno));
  }
  ::close(fd);
  std::string line = kReseedLogLine;  // never the bytes: they are the clone's secret
  LogToKernel(line);
  if (HasVmGenerationId()) {
    std::string kernel = AwaitKernelReseed(std::chrono::seconds(5));
    line = (kernel.empty() ? "no VM generation ID reseed from the kernel" : kernel) + "; " + line;
  }
  status_port.Say(std::string(kForkedEvent) + "=" + line);
}

// Requests from the host on the status port, one per line. A reseed
// means the VM was restored: the Runtime API's host is a new one.
void ReadHostRequests(int port, std::string& pending, GuestRuntimeRelay* relay) {
  char buf[512];
  ssize_t n = ::read(port, buf, sizeof(buf));
  if (n <= 0) return;
  pending.append(buf, static_cast<size_t>(n));
  for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
    std::string request = pending.substr(0, nl);
    pending.erase(0, nl + 1);
    if (request.rfind(kReseedRequest, 0) != 0) continue;
    Reseed(request.substr(std::strlen(kReseedRequest)));
    if (relay) relay->Replay();
  }
}

// Reaps every process that ended (PID 1 inherits orphans); the exit code
// of `child` once it is among them.
std::optional<int> Reap(pid_t child) {
  std::optional<int> code;
  int status;
  for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
    if (pid == child) code = sandbox::ExitCodeOf(status);
  }
  return code;
}

// Waits for `child`, reaping everything else and serving the host's
// requests (and the Runtime API relay) meanwhile; then ends whatever is
// left.
int WaitAndReap(pid_t child, int sigchld, int port, GuestRuntimeRelay* relay) {
  std::optional<int> code;
  std::string requests;
  while (!code) {
    std::vector<pollfd> fds = {{sigchld, POLLIN, 0}, {port, POLLIN, 0}};
    if (relay) relay->AddPollFds(fds);
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) ReadHostRequests(port, requests, relay);
    if (relay) relay->Serve(std::vector<pollfd>(fds.begin() + 2, fds.end()));
    signalfd_siginfo info;
    while (::read(sigchld, &info, sizeof(info)) == sizeof(info)) {
    }
    code = Reap(child);
  }
  ::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  return code.value_or(1);
}

[[noreturn]] void Main() {
  MountOrFail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  MountOrFail("proc", "/proc", "proc", 0, nullptr);
  MountOrFail("sysfs", "/sys", "sysfs", 0, nullptr);
  LoadModules();
  kernel_log = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (kernel_log >= 0) ::lseek(kernel_log, 0, SEEK_END);
  status_port.Open(OpenPort(kStatusPort, O_RDWR));
  status_port.Say("init");
  Result<std::string> text = ReadFileToString(std::string("/") + kGuestSpecPath);
  Check(text.status());
  Result<RunSpec> spec = DecodeRunSpec(*text);
  Check(spec.status());
  int in = OpenPort(kStdinPort, O_RDONLY);
  int out = OpenPort(kStdoutPort, O_WRONLY);
  int err = OpenPort(kStderrPort, O_WRONLY);
  MountRoot(spec->writable, SetUpNetwork(spec->network));
  Result<sandbox::ProcessSpec> process =
      sandbox::ProcessFromConfig(spec->config_json, spec->command, kNewRoot);
  Check(process.status());
  if (!spec->env.empty()) process->env = spec->env;
  MountApiFileSystems();
  std::optional<GuestRuntimeRelay> relay;
  if (spec->runtime_api) {
    Result<GuestRuntimeRelay> started = GuestRuntimeRelay::Start(OpenPort(kRuntimePort, O_RDWR));
    Check(started.status());
    relay.emplace(std::move(*started));
  }
  // SIGCHLD arrives on a descriptor (blocked before the fork, unblocked in
  // the child) so one poll serves children and the host's requests.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sigchld = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigchld < 0) Fail(std::string("signalfd: ") + std::strerror(errno));
  status_port.Say("start");
  pid_t child = ::fork();
  if (child < 0) Fail(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
    Exec(*process, in, out, err);
  }
  int code = WaitAndReap(child, sigchld, status_port.fd(), relay ? &*relay : nullptr);
  ::fsync(out);
  ::fsync(err);
  status_port.Say("exit=" + std::to_string(code));
  PowerOff();
}

}  // namespace
}  // namespace lode::vm

int main() { lode::vm::Main(); }
