#include "util/child.h"

#include <sys/prctl.h>
#include <unistd.h>

namespace lode {

void EndWithParent(pid_t parent, int signal) {
  if (::prctl(PR_SET_PDEATHSIG, signal) != 0) _exit(127);
  // A parent outside the child's PID namespace shows as 0; one that died
  // before prctl shows as whoever adopted the child.
  pid_t now = ::getppid();
  if (now != parent && now != 0) _exit(127);
}

}  // namespace lode
