// How a microVM's CPU runs: KVM where the host has hardware virtualization,
// else TCG (QEMU's emulator; correct but tens of times slower). A KVM device
// that is PVM (pagetable-based virtualization, found on some cloud VMs) runs
// only PVM guest kernels, so it counts as none.
#pragma once

#include <string>

#include "util/status.h"

namespace lode::vm {

enum class Accel { kAuto, kKvm, kTcg };

// "auto", "kvm" or "tcg".
Result<Accel> ParseAccel(const std::string& name);
const char* AccelName(Accel accel);

struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string notice;  // why TCG was chosen under "auto"; empty otherwise
};

// kAuto picks; kKvm fails with one line where KVM cannot run a stock guest.
Result<AccelChoice> ChooseAccel(Accel wanted);

}  // namespace lode::vm
