// Children that must not outlive the lode process that started them.
#pragma once

#include <sys/types.h>

namespace lode {

// To be called in a child right after fork, before exec: the kernel sends
// the child `signal` when `parent` (the thread that forked it) ends, even
// by SIGKILL; a child whose parent is already gone exits at once.
// Async-signal-safe.
void EndWithParent(pid_t parent, int signal);

}  // namespace lode
