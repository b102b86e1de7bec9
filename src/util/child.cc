#include "util/child.h"

#include <sys/prctl.h>
#include <unistd.h>

namespace lode {

void EndWithParent(pid_t parent, int signal) {
  if (::prctl(PR_SET_PDEATHSIG, signal) != 0 || ::getppid() != parent) _exit(127);
}

}  // namespace lode
