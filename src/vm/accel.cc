#include "vm/accel.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lode::vm {
namespace {

bool CpuHasVirtualization() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream flags(line.substr(line.find(':') + 1));
    for (std::string f; flags >> f;) {
      if (f == "vmx" || f == "svm") return true;
    }
    return false;
  }
  return false;
}

// Why KVM cannot run a stock guest kernel here; empty when it can.
std::string KvmUnusable() {
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) {
    return "/dev/kvm is PVM, which runs only PVM guest kernels";
  }
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "no usable /dev/kvm";
  ::close(fd);
  if (!CpuHasVirtualization()) return "the CPU has no VT-x or AMD-V";
  return "";
}

}  // namespace

Result<Accel> ParseAccel(const std::string& name) {
  if (name == "auto") return Accel::kAuto;
  if (name == "kvm") return Accel::kKvm;
  if (name == "tcg") return Accel::kTcg;
  return Status::InvalidArgument("--accel is auto, kvm or tcg, not '" + name + "'");
}

const char* AccelName(Accel accel) {
  switch (accel) {
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
    default:
      return "auto";
  }
}

Result<AccelChoice> ChooseAccel(Accel wanted) {
  if (wanted == Accel::kTcg) return AccelChoice{Accel::kTcg, ""};
  std::string why = KvmUnusable();
  if (why.empty()) return AccelChoice{Accel::kKvm, ""};
  if (wanted == Accel::kKvm) return Status::InvalidArgument("--accel kvm: " + why);
  return AccelChoice{Accel::kTcg, why + ": using TCG (emulation, slow)"};
}

}  // namespace lode::vm
