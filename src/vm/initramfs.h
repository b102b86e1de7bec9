// The guest side of a microVM, as lode hands it to QEMU: a kernel (Debian's
// linux-image-amd64 by default) and an initramfs holding lode's own init
// and the kernel modules it loads. The initramfs is an uncompressed newc
// cpio cached per kernel and init; each run appends a small archive with
// its RunSpec (the kernel unpacks concatenated archives in order).
#pragma once

#include <string>
#include <vector>

#include "util/status.h"
#include "vm/run_spec.h"

namespace lode::vm {

struct GuestKernel {
  std::string image;        // bzImage path
  std::string version;      // from the bzImage header ("6.1.0-57-amd64")
  std::string modules_dir;  // /lib/modules/VERSION; empty: no modules (all built in)
};

// `kernel` (empty: the newest /boot/vmlinuz-*), with its version read from
// the image and its modules found under /lib/modules.
Result<GuestKernel> FindGuestKernel(const std::string& kernel);

// The modules the init loads (virtio-mmio, virtio-pci, virtio-blk, virtio-console,
// ext4 and overlay, with crc32c which ext4 asks for by name) and their
// dependencies from modules.dep, each after the ones it needs. Built-in
// ones are left out.
Result<std::vector<std::string>> GuestModules(const std::string& modules_dir);

// The base initramfs for `kernel`, built into `cache_dir` on first use.
Result<std::string> BaseInitramfs(const GuestKernel& kernel, const std::string& cache_dir);

// Writes `base` followed by an archive holding `spec` to `out`.
Status WriteRunInitramfs(const std::string& base, const RunSpec& spec, const std::string& out);

}  // namespace lode::vm
