// Checks shared by the microVM suites: what a run of `lode run --vm` or
// `lode snapshot create` must not leave behind, and whether one runs now.
#pragma once

#include <string>

namespace lode::testing {

// For a microVM suite in `dir`: makes DIR/tmp and returns the environment
// prefix of its commands: runs keep their scratch directories (and QEMU's
// sockets) in DIR/tmp, keys in DIR/keys, the store in DIR/store.
std::string VmSuiteEnv(const std::string& dir);

// What runs left under `tmp` (the runs' TMPDIR: QEMU's arguments name its
// run directory there): processes naming it, mounts under it, files in it;
// "" when nothing.
std::string RunLeftovers(const std::string& tmp);

// Whether a QEMU whose command line names `dir` runs now.
bool QemuRunsUnder(const std::string& dir);
// Waits (30 s at most) until one does; whether it does.
bool AwaitQemuUnder(const std::string& dir);

}  // namespace lode::testing
