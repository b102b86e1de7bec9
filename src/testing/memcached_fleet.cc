#include "testing/memcached_fleet.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "testing/ports.h"

namespace lode::testing {

MemcachedFleet::MemcachedFleet(int servers, int memory_mb) : memory_mb_(memory_mb) {
  for (int i = 0; i < servers; ++i) {
    ports_.push_back(FreeLoopbackPorts());
    pids_.push_back(-1);
    ok_ = ok_ && Start(i);
  }
}

MemcachedFleet::~MemcachedFleet() {
  for (int i = 0; i < static_cast<int>(pids_.size()); ++i) Kill(i);
}

bool MemcachedFleet::Start(int i) {
  std::string port = std::to_string(ports_[static_cast<size_t>(i)]);
  std::string memory = std::to_string(memory_mb_);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("memcached", "memcached", "-l", "127.0.0.1", "-p", port.c_str(), "-U", "0", "-m",
             memory.c_str(), "-u", "root", static_cast<char*>(nullptr));
    _exit(127);
  }
  pids_[static_cast<size_t>(i)] = pid;
  for (int tries = 0; tries < 500; ++tries) {
    if (LoopbackAccepts(ports_[static_cast<size_t>(i)])) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string MemcachedFleet::Address(int i) const {
  return "127.0.0.1:" + std::to_string(ports_[static_cast<size_t>(i)]);
}

std::string MemcachedFleet::Url() const {
  std::string url = "memcached://";
  for (size_t i = 0; i < ports_.size(); ++i) {
    if (i > 0) url += ',';
    url += Address(static_cast<int>(i));
  }
  return url;
}

void MemcachedFleet::Kill(int i) {
  pid_t& pid = pids_[static_cast<size_t>(i)];
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  pid = -1;
}

void MemcachedFleet::Freeze(int i) { ::kill(pids_[static_cast<size_t>(i)], SIGSTOP); }
void MemcachedFleet::Thaw(int i) { ::kill(pids_[static_cast<size_t>(i)], SIGCONT); }

bool MemcachedFleet::Restart(int i) {
  Kill(i);
  return Start(i);
}

}  // namespace lode::testing
