// A `lode agent` child process for tests, with its socket, mountpoint and
// cache under one directory. Stopped with SIGTERM on destruction; Kill()
// simulates a crash (SIGKILL): the FUSE connection stays with the agent's
// holder until Start() brings a successor (or destruction detaches the
// mount, which ends the holder).
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
  void Stop();  // SIGTERM, wait; if none runs, detach a mount a killed one left
  void Kill();  // SIGKILL, wait
  // Starts a successor with --upgrade and waits for this one to exit.
  bool Upgrade();
  pid_t pid() const { return pid_; }

  // "--socket S": for lode verbs talking to this agent.
  std::string SocketArg() const;
  const std::string& socket() const { return socket_; }
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& cache() const { return cache_; }
  std::string log() const;
  bool running() const { return pid_ > 0; }

 private:
  void Wait();
  bool Launch(const std::string& flags);
  // Some agent answers on the socket within 10 s, and this one still runs.
  bool Answers();
  std::string dir_, env_, extra_args_;
  std::string socket_, mountpoint_, cache_;
  pid_t pid_ = -1;
};

}  // namespace lode::testing
