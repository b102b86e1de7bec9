#include "testing/vm_runs.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/process.h"

namespace lode::testing {

std::string VmSuiteEnv(const std::string& dir) {
  std::filesystem::create_directories(dir + "/tmp");
  return "TMPDIR=" + ShellQuote(dir + "/tmp") + " LODE_KEYS=" + ShellQuote(dir + "/keys") +
         " LODE_STORE=" + ShellQuote("dir://" + dir + "/store") + " ";
}

std::string RunLeftovers(const std::string& tmp) {
  std::string left;
  // A bracket keeps pgrep from matching its own shell's command line.
  std::string pattern = tmp.substr(0, tmp.size() - 1) + "[" + tmp.back() + "]";
  if (RunCommand("pgrep -f " + ShellQuote(pattern)).exit_code == 0) {
    left += "processes: " + RunCommand("pgrep -af " + ShellQuote(pattern)).output;
  }
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    if (line.find(tmp) != std::string::npos) left += "mount: " + line + "\n";
  }
  for (const auto& e : std::filesystem::directory_iterator(tmp)) {
    left += "file: " + e.path().string() + "\n";
  }
  return left;
}

bool QemuRunsUnder(const std::string& dir) {
  return RunCommand("pgrep -f " + ShellQuote("qemu-system-x86_6[4] .*" + dir)).exit_code == 0;
}

bool AwaitQemuUnder(const std::string& dir) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!QemuRunsUnder(dir)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace lode::testing
