#include "testing/containerd.h"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/files.h"

namespace lode::testing {
namespace {

int StopChild(pid_t& pid, int signal) {
  if (pid <= 0) return -1;
  ::kill(pid, signal);
  int status = 0;
  ::waitpid(pid, &status, 0);
  pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

SnapshotterProcess::SnapshotterProcess(std::string dir, std::string extra_args)
    : dir_(std::move(dir)),
      socket_(dir_ + "/snapshotter.sock"),
      extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_);
}

SnapshotterProcess::~SnapshotterProcess() { (void)Stop(SIGTERM); }

bool SnapshotterProcess::Start() {
  pid_ = StartCommand("exec " + ShellQuote(LodeBinary()) + " snapshotter --root " +
                      ShellQuote(root()) + " --socket " + ShellQuote(socket_) + " " + extra_args_ +
                      " >>" + ShellQuote(dir_ + "/snapshotter.log") + " 2>&1");
  return AwaitSocket(pid_, socket_, std::chrono::seconds(20));
}

int SnapshotterProcess::Stop(int signal) { return StopChild(pid_, signal); }

std::string SnapshotterProcess::log() const { return ReadAll(dir_ + "/snapshotter.log"); }

Containerd::Containerd(std::string dir, const std::string& snapshotter_socket)
    : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/config.toml")
      << "version = 2\n"
      << "root = \"" << dir_ << "/root\"\n"
      << "state = \"" << dir_ << "/state\"\n"
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      << "[grpc]\n  address = \"" << dir_ << "/containerd.sock\"\n"
      << "[ttrpc]\n  address = \"" << dir_ << "/containerd.sock.ttrpc\"\n"
      << "[debug]\n  address = \"" << dir_ << "/debug.sock\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir_ << "/opt\"\n"
      << "[proxy_plugins.lode]\n  type = \"snapshot\"\n  address = \"" << snapshotter_socket
      << "\"\n";
}

Containerd::~Containerd() { Stop(); }

bool Containerd::Start() {
  pid_ = StartCommand("exec containerd --config " + ShellQuote(dir_ + "/config.toml") + " >>" +
                      ShellQuote(dir_ + "/containerd.log") + " 2>&1");
  return AwaitSocket(pid_, dir_ + "/containerd.sock", std::chrono::seconds(20));
}

void Containerd::Stop() { (void)StopChild(pid_, SIGTERM); }

CommandResult Containerd::Ctr(const std::string& args) const {
  return RunCommand("ctr --address " + ShellQuote(dir_ + "/containerd.sock") +
                    " --namespace lode " + args + " 2>&1");
}

std::string Containerd::log() const { return ReadAll(dir_ + "/containerd.log"); }

}  // namespace lode::testing
