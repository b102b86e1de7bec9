// A microVM run by QEMU: the `microvm` machine, the image's block file as a
// read-only virtio-blk disk, lode's kernel and initramfs, and four
// virtio-serial ports (not the serial console, which is slow and drops
// data) carrying the command's stdin, stdout and stderr and the init's
// status lines. QEMU waits for lode to connect every port before the guest
// starts, so no output is lost.
#pragma once

#include <string>

#include "util/status.h"
#include "vm/accel.h"

namespace lode::vm {

struct VmConfig {
  std::string qemu = "qemu-system-x86_64";
  std::string kernel;
  std::string initramfs;
  std::string disk;           // the attachment's block file
  Accel accel = Accel::kTcg;  // kKvm or kTcg: already chosen
  int memory_mib = 512;
  int cpus = 1;
  std::string work_dir;  // the ports' sockets, QEMU's and the console's logs
};

struct VmRun {
  int exit_code = 0;         // the command's; 128 + signal when lode was stopped
  double vmm_seconds = 0;    // QEMU started until it waited for its ports
  double boot_seconds = 0;   // then until the init ran
  double start_seconds = 0;  // then until the command was started
  double run_seconds = 0;    // then until it exited
};

// Fails with one line when `qemu` cannot be run.
Status CheckQemu(const std::string& qemu);

// Runs the VM to its end, relaying this process's stdin to the command and
// its stdout and stderr to ours. SIGINT and SIGTERM stop the VM. A VM that
// ends without the command's exit status is an error that says what the
// init or QEMU said last.
Result<VmRun> RunVm(const VmConfig& config);

}  // namespace lode::vm
