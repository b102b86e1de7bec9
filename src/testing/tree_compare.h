// Compares two directory trees the way a container would see them: names,
// types, contents, modes, owners, mtimes (ns), xattrs, link counts, device
// numbers and symlink targets. An oracle for the flattener that shares no
// code with it.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace lode::testing {

struct CompareOptions {
  std::set<std::string> ignore;  // relative paths skipped on both sides ("lost+found")
  size_t max_differences = 40;
};

// Returns human-readable differences; empty means equal.
std::vector<std::string> CompareTrees(const std::string& a, const std::string& b,
                                      const CompareOptions& options = {});

}  // namespace lode::testing
