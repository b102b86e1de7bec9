#include "vm/qemu_process.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <thread>

#include "sandbox/process.h"
#include "util/child.h"
#include "util/unix_socket.h"

namespace lode::vm {
namespace {

// A seccomp filter under which madvise(..., MADV_HUGEPAGE) returns 0
// without running; every other call runs. Async-signal-safe.
bool SkipHugePageAdvice() {
  static sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_HUGEPAGE, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),  // "succeeds"
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog filter{static_cast<unsigned short>(std::size(program)), program};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter) == 0;
}

}  // namespace

Qemu::~Qemu() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

Status Qemu::Start(const std::vector<std::string>& args, const std::string& log,
                   const Options& options) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  UniqueFd netns;
  if (!options.network_namespace.empty()) {
    netns = UniqueFd(::open(options.network_namespace.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns.valid()) return Status::FromErrno(errno, "open " + options.network_namespace);
  }
  pid_t lode = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) return Status::FromErrno(errno, "fork QEMU");
  if (pid_ == 0) {
    EndWithParent(lode, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    // Said in the log, whose last line lode quotes when QEMU never answers.
    auto fail = [](const char* why) {
      (void)!::write(2, why, std::strlen(why));
      _exit(127);
    };
    if (netns.valid() && ::setns(netns.get(), CLONE_NEWNET) != 0) {
      fail("lode: cannot enter the VM's network namespace\n");
    }
    if (options.small_pages && !SkipHugePageAdvice()) {
      fail("lode: cannot install the seccomp filter that skips QEMU's huge page advice\n");
    }
    ::execvp(argv[0], argv.data());
    fail("lode: cannot run QEMU\n");
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) return Status::FromErrno(errno, "watch QEMU");
  return Status::Ok();
}

bool Qemu::Exited() const {
  pollfd p{pidfd_, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

void Qemu::Kill() const {
  if (pidfd_ >= 0) (void)::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
}

int Qemu::Wait() {
  if (pid_ <= 0) return exit_code_;  // waited for already
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  exit_code_ = sandbox::ExitCodeOf(status);
  return exit_code_;
}

Result<UniqueFd> ConnectPort(const Qemu& qemu, const std::string& path) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    if (qemu.Exited()) return Status::Unavailable("QEMU ended before the VM started");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Unavailable("QEMU did not open " + path + " within 30 s");
}

}  // namespace lode::vm
