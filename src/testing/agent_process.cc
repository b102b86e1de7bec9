#include "testing/agent_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "testing/process.h"

namespace lode::testing {

AgentProcess::AgentProcess(std::string dir, std::string env, std::string extra_args)
    : dir_(std::move(dir)),
      env_(std::move(env)),
      extra_args_(std::move(extra_args)),
      socket_(dir_ + "/agent.sock"),
      mountpoint_(dir_ + "/images"),
      cache_(dir_ + "/cache") {}

AgentProcess::~AgentProcess() { Stop(); }

bool AgentProcess::Start() { return Launch(""); }

bool AgentProcess::Upgrade() {
  pid_t old = pid_;
  if (!Launch("--upgrade")) return false;
  int status;
  while (::waitpid(old, &status, 0) < 0 && errno == EINTR) {
  }
  return Answers();
}

bool AgentProcess::Answers() {
  for (int i = 0; i < 500; ++i) {
    if (RunCommand(LodeBinary() + " ps " + SocketArg() + " >/dev/null 2>&1").exit_code == 0) {
      return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool AgentProcess::Launch(const std::string& flags) {
  std::string command = "exec env " + env_ + LodeBinary() + " agent --socket " +
                        ShellQuote(socket_) + " --mountpoint " + ShellQuote(mountpoint_) +
                        " --cache " + ShellQuote(cache_) + " " + extra_args_ + " " + flags +
                        " 2>>" + ShellQuote(dir_ + "/agent.log");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return Answers();
}

void AgentProcess::Wait() {
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void AgentProcess::Stop() {
  if (pid_ <= 0) {
    RunCommand("umount -l " + ShellQuote(mountpoint_) + " 2>/dev/null");
    return;
  }
  ::kill(pid_, SIGTERM);
  Wait();
}

void AgentProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Wait();
}

std::string AgentProcess::SocketArg() const { return "--socket " + ShellQuote(socket_); }

std::string AgentProcess::log() const {
  std::ifstream in(dir_ + "/agent.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lode::testing
