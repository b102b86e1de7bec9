// A private containerd (Debian's 1.6) for tests, with lode's snapshotter as
// its proxy plugin "lode": root, state, sockets and config under one
// directory, the CRI plugin off. Both stop on destruction.
#pragma once

#include <sys/types.h>

#include <string>

#include "testing/process.h"

namespace lode::testing {

// `lode snapshotter` as a child process.
class SnapshotterProcess {
 public:
  // `extra_args` go to `lode snapshotter` (store, tenant, agent socket).
  SnapshotterProcess(std::string dir, std::string extra_args = "");
  ~SnapshotterProcess();
  SnapshotterProcess(const SnapshotterProcess&) = delete;
  SnapshotterProcess& operator=(const SnapshotterProcess&) = delete;

  // Starts it and waits until its socket answers; false (see log()) if not.
  bool Start();
  // Ends it with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and
  // waits; its exit status, or 128+signal.
  int Stop(int signal);

  const std::string& socket() const { return socket_; }
  std::string root() const { return dir_ + "/root"; }
  std::string log() const;

 private:
  std::string dir_, socket_, extra_args_;
  pid_t pid_ = -1;
};

class Containerd {
 public:
  Containerd(std::string dir, const std::string& snapshotter_socket);
  ~Containerd();
  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;

  // Starts containerd and waits for its socket; false (see log()) if not.
  bool Start();
  void Stop();

  // `ctr` against this containerd in namespace "lode" (args as a shell
  // fragment).
  CommandResult Ctr(const std::string& args) const;
  // `ctr run` options that keep runc's state in this fixture's directory.
  std::string RuncRoot() const { return "--runc-root " + dir_ + "/runc"; }
  std::string log() const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace lode::testing
