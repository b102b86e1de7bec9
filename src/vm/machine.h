// A microVM run by QEMU: the `microvm` machine (`q35` with a VM generation
// ID device for VMs that are snapshotted or restored), the image's block
// file as a read-only virtio-blk disk, lode's kernel and initramfs, and four
// virtio-serial ports (not the serial console, which is slow and drops
// data) carrying the command's stdin, stdout and stderr and the init's
// status lines. QEMU waits for lode to connect every port before the guest
// starts, so no output is lost.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"
#include "vm/accel.h"
#include "vm/network.h"

namespace lode::vm {

// The VMM, looked up in PATH.
inline constexpr const char* kQemu = "qemu-system-x86_64";

struct VmConfig {
  std::string qemu = kQemu;
  std::string kernel;
  std::string initramfs;
  std::string disk;  // the attachment's block file
  // The disk is this slice of the file (a snapshot's file holds memory,
  // device state and the disk); 0 bytes: all of it.
  uint64_t disk_offset = 0, disk_bytes = 0;
  Accel accel = Accel::kTcg;  // kKvm or kTcg: already chosen
  int memory_mib = 512;
  int cpus = 1;
  std::string work_dir;  // the ports' sockets, QEMU's and the console's logs
  // Outbound network through QEMU's user-mode NAT (the guest's side:
  // kUserNetwork in its run spec), and guest ports published on the host.
  bool network = false;
  std::vector<PublishedPort> published;
  // QEMU runs in this network namespace (a path; "": lode's own), so that
  // "the host" the guest reaches is that namespace.
  std::string network_namespace;
  // A function's VM: a fifth port, lode.runtime, carries the guest's
  // Runtime API connections (runtime_port.h).
  bool runtime_api = false;

  // Snapshots: guest memory in a file, mapped shared to take a snapshot (so
  // the file is the memory) and privately to restore one (so guest writes
  // never reach it).
  std::string memory_file;
  bool memory_shared = false;
  // Restore: the device state (SnapshotVm's) loaded before the VM resumes,
  // and what to call once it is loaded, before the guest runs again (to
  // tell what QEMU alone read of the snapshot).
  std::string incoming_state;
  std::function<void()> state_loaded;
};

struct VmRun {
  int exit_code = 0;         // the command's; 128 + signal when lode was stopped
  double vmm_seconds = 0;    // QEMU started until it waited for its ports
  double boot_seconds = 0;   // then until the init ran (restore: state loaded)
  double start_seconds = 0;  // then until the command was started (restore: reseeded)
  double run_seconds = 0;    // then until it exited
  std::string forked;        // restore: the guest's confirmation of its reseed
};

// Fails with one line when `qemu` cannot be run.
Status CheckQemu(const std::string& qemu);

// Runs the VM to its end, relaying this process's stdin to the command and
// its stdout and stderr to ours. SIGINT and SIGTERM stop the VM. A VM that
// ends without the command's exit status is an error that says what the
// init or QEMU said last. With `incoming_state` the VM is restored instead
// of booted, sent fresh entropy for its kernel's RNG, and the command's
// stdin is held until the guest's init confirmed the reseed.
Result<VmRun> RunVm(const VmConfig& config);

// The first line `qemu --version` prints.
Result<std::string> QemuVersion(const std::string& qemu);

// The QEMU version (QemuVersion's) and the arguments that shape the VM's
// device state (paths left out): a snapshot restores only into a VM with
// the same signature.
std::string DeviceSignature(const VmConfig& config, const std::string& qemu_version);

// When a command being snapshotted is ready.
struct ReadyWhen {
  std::string marker;         // it wrote this on stdout
  double after_seconds = -1;  // or: this long after it started
  double timeout_seconds = 600;
};

struct SavedVm {
  int stopped_by = 0;       // a signal that stopped lode first: nothing was saved
  double boot_seconds = 0;  // QEMU started until the command was ready
  double save_seconds = 0;  // paused and device state written
  uint64_t state_bytes = 0;
};

// Boots the VM (memory_file shared) and runs its command until `ready`,
// passing what it writes on stdout and stderr to our stderr and giving it
// no input; then pauses it, writes its device state to `state_file` and
// ends QEMU. The memory is then in memory_file. The command ending first,
// or the timeout, is an error; SIGINT or SIGTERM ends the VM unsaved.
Result<SavedVm> SnapshotVm(const VmConfig& config, const ReadyWhen& ready,
                           const std::string& state_file);

// A VM in the background, as a function's sandbox runs: no stdin, the
// command's stdout and stderr to `output` (on the VM's own thread), and
// with VmConfig::runtime_api the guest's Runtime API connections relayed
// to the Unix socket `runtime_api_socket`. With `incoming_state` it is
// restored (and reseeded, as RunVm does) instead of booted.
class BackgroundVm {
 public:
  static Result<std::unique_ptr<BackgroundVm>> Start(const VmConfig& config,
                                                     std::function<void(std::string_view)> output,
                                                     const std::string& runtime_api_socket);
  // Kills the VM if it still runs and waits for its thread.
  ~BackgroundVm();
  BackgroundVm(const BackgroundVm&) = delete;
  BackgroundVm& operator=(const BackgroundVm&) = delete;

  void Kill();
  // Waits for the VM to end: the command's exit status, or why the VM
  // ended without one. Once.
  Result<VmRun> Wait();
  // QEMU's peak resident memory (guest memory it touched included).
  uint64_t PeakMemoryBytes() const;
  // A VM whose memory is a shared file (VmConfig::memory_shared): pauses
  // it, writes its device state to `state_file` and ends QEMU, as
  // SnapshotVm does once its command is ready. Once.
  Result<SavedVm> SaveAndQuit(const std::string& state_file);

  class Impl;

 private:
  explicit BackgroundVm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lode::vm
