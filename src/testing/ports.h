// Loopback ports for servers that tests start.
#pragma once

namespace lode::testing {

// A port such that it and the `count - 1` after it were free a moment ago
// (the kernel hands out the first; the others are checked).
int FreeLoopbackPorts(int count = 1);
// True when something accepts connections on 127.0.0.1:`port`.
bool LoopbackAccepts(int port);

}  // namespace lode::testing
