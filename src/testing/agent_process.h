// A `lode agent` child process for tests, with its socket, mountpoint and
// cache under one directory. Stopped with SIGTERM on destruction; Kill()
// simulates a crash (SIGKILL), after which its FUSE mount is detached.
#pragma once

#include <sys/types.h>

#include <string>

namespace lode::testing {

class AgentProcess {
 public:
  // `env` is a shell prefix such as "LODE_KEYS=... LODE_STORE=... ";
  // `extra_args` go to `lode agent`.
  AgentProcess(std::string dir, std::string env, std::string extra_args = "");
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts the agent and waits until it answers; false (with log()) if not.
  bool Start();
  void Stop();  // SIGTERM, wait
  void Kill();  // SIGKILL, wait, detach the dead mount

  // "--socket S": for lode verbs talking to this agent.
  std::string SocketArg() const;
  const std::string& socket() const { return socket_; }
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& cache() const { return cache_; }
  std::string log() const;
  bool running() const { return pid_ > 0; }

 private:
  void Wait();
  std::string dir_, env_, extra_args_;
  std::string socket_, mountpoint_, cache_;
  pid_t pid_ = -1;
};

}  // namespace lode::testing
