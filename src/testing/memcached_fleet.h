// Real memcached servers on 127.0.0.1 for tests: started on free ports,
// waited for, and killed on destruction. Single servers can be killed,
// frozen (SIGSTOP), thawed and restarted empty.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lode::testing {

class MemcachedFleet {
 public:
  explicit MemcachedFleet(int servers, int memory_mb = 64);
  ~MemcachedFleet();
  MemcachedFleet(const MemcachedFleet&) = delete;
  MemcachedFleet& operator=(const MemcachedFleet&) = delete;

  bool ok() const { return ok_; }
  // "memcached://127.0.0.1:P1,127.0.0.1:P2,..."
  std::string Url() const;
  std::string Address(int i) const;
  void Kill(int i);
  void Freeze(int i);
  void Thaw(int i);
  bool Restart(int i);  // empty, on the same port

 private:
  bool Start(int i);
  std::vector<int> ports_;
  std::vector<pid_t> pids_;
  int memory_mb_;
  bool ok_ = true;
};

}  // namespace lode::testing
