// Checks shared by the microVM suites: what a run of `lode run --vm` or
// `lode snapshot create` must not leave behind, and whether one runs now.
#pragma once

#include <string>

namespace lode::testing {

// What runs left under `tmp` (the runs' TMPDIR: QEMU's arguments name its
// run directory there): processes naming it, mounts under it, files in it;
// "" when nothing.
std::string RunLeftovers(const std::string& tmp);

// Whether a QEMU whose command line names `dir` runs now.
bool QemuRunsUnder(const std::string& dir);

}  // namespace lode::testing
