#include "vm/initramfs.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "util/file.h"
#include "util/sha256.h"
#include "vm/guest_init_blob.h"

namespace lode::vm {
namespace {

namespace fs = std::filesystem;

// virtio_mmio for microvm, virtio_pci for the q35 machine snapshots run
// on. ext4 asks the crypto API for crc32c by name, so no symbol ties them.
const char* const kWantedModules[] = {"virtio_mmio",    "virtio_pci", "virtio_blk",
                                      "virtio_console", "virtio_net", "crc32c_generic",
                                      "ext4",           "overlay"};

// The version string a bzImage carries: its setup header's kernel_version
// field (at 0x20e) points at it, 0x200 bytes before the offset it holds.
Result<std::string> BzImageVersion(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(0x8000, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (!in && !in.eof()) return Status::IOError("cannot read the kernel " + path);
  if (head.size() < 0x210 || head.compare(0x202, 4, "HdrS") != 0) {
    return Status::InvalidArgument(path + " is not a Linux kernel image (bzImage)");
  }
  size_t at = 0x200 + (static_cast<uint8_t>(head[0x20e]) | static_cast<uint8_t>(head[0x20f]) << 8);
  if (at >= head.size()) return Status::InvalidArgument(path + ": no kernel version in its header");
  std::string version = head.substr(at, head.find_first_of(std::string(" \0", 2), at) - at);
  if (version.empty()) return Status::InvalidArgument(path + ": empty kernel version");
  return version;
}

// modules.dep: "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko ...".
std::map<std::string, std::vector<std::string>> ReadModulesDep(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> deps;
  std::ifstream in(dir + "/modules.dep");
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string>& d = deps[line.substr(0, colon)];
    for (std::string m; rest >> m;) d.push_back(m);
  }
  return deps;
}

bool IsBuiltIn(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/modules.builtin");
  for (std::string line; std::getline(in, line);) {
    if (fs::path(line).stem() == name) return true;
  }
  return false;
}

class CpioWriter {
 public:
  explicit CpioWriter(std::string* out) : out_(out), a_(archive_write_new()) {
    archive_write_set_format_cpio_newc(a_);
    archive_write_set_bytes_per_block(a_, 0);  // no padding beyond the format's own
    archive_write_open(a_, this, nullptr, &CpioWriter::Append, nullptr);
  }
  ~CpioWriter() { archive_write_free(a_); }

  Status Dir(const std::string& path) { return Add(path, AE_IFDIR, 0755, ""); }
  Status File(const std::string& path, std::string_view data, int mode = 0644) {
    return Add(path, AE_IFREG, mode, data);
  }
  Status Finish() {
    if (archive_write_close(a_) != ARCHIVE_OK) return Error("finish");
    return Status::Ok();
  }

 private:
  static la_ssize_t Append(archive*, void* self, const void* buf, size_t n) {
    static_cast<CpioWriter*>(self)->out_->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  Status Add(const std::string& path, unsigned type, int mode, std::string_view data) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, static_cast<mode_t>(mode));
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    bool ok = archive_write_header(a_, e) == ARCHIVE_OK &&
              (data.empty() || archive_write_data(a_, data.data(), data.size()) ==
                                   static_cast<la_ssize_t>(data.size()));
    archive_entry_free(e);
    return ok ? Status::Ok() : Error(path);
  }
  Status Error(const std::string& what) const {
    return Status::IOError("initramfs " + what + ": " + archive_error_string(a_));
  }

  std::string* out_;
  archive* a_;
};

Result<std::string> BuildBase(const GuestKernel& kernel) {
  std::string out;
  CpioWriter cpio(&out);
  for (const char* dir : {"dev", "proc", "sys", "newroot", "lode", kGuestModuleDir}) {
    LODE_RETURN_IF_ERROR(cpio.Dir(dir));
  }
  std::span<const uint8_t> init = GuestInitBinary();
  LODE_RETURN_IF_ERROR(
      cpio.File(kGuestInitPath,
                std::string_view(reinterpret_cast<const char*>(init.data()), init.size()), 0755));
  if (!kernel.modules_dir.empty()) {
    LODE_ASSIGN_OR_RETURN(std::vector<std::string> modules, GuestModules(kernel.modules_dir));
    for (size_t i = 0; i < modules.size(); ++i) {
      LODE_ASSIGN_OR_RETURN(std::string ko,
                            ReadFileToString(kernel.modules_dir + "/" + modules[i]));
      char prefix[24];
      std::snprintf(prefix, sizeof(prefix), "%03zu-", i);
      std::string name =
          std::string(kGuestModuleDir) + "/" + prefix + fs::path(modules[i]).filename().string();
      LODE_RETURN_IF_ERROR(cpio.File(name, ko));
    }
  }
  LODE_RETURN_IF_ERROR(cpio.Finish());
  return out;
}

// Every lode build (and kernel) has an initramfs of its own: those no run
// used for a week go (a later run of their build rebuilds one in a second).
void PruneUnused(const std::string& cache_dir) {
  auto unused_since = fs::file_time_type::clock::now() - std::chrono::hours(24 * 7);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache_dir, ec)) {
    std::string name = e.path().filename();
    if (name.rfind("initramfs-", 0) == 0 && e.last_write_time(ec) < unused_since) {
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

Result<GuestKernel> FindGuestKernel(const std::string& kernel) {
  GuestKernel k;
  k.image = kernel;
  if (k.image.empty()) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/boot", ec)) {
      if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) found.push_back(e.path());
    }
    if (found.empty()) {
      return Status::NotFound(
          "no guest kernel: install linux-image-amd64 (scripts/install-deps.sh) or give --kernel");
    }
    std::sort(found.begin(), found.end());
    k.image = found.back();
  }
  LODE_ASSIGN_OR_RETURN(k.version, BzImageVersion(k.image));
  std::string modules = "/lib/modules/" + k.version;
  if (fs::exists(modules + "/modules.dep")) k.modules_dir = modules;
  return k;
}

Result<std::vector<std::string>> GuestModules(const std::string& modules_dir) {
  std::map<std::string, std::vector<std::string>> deps = ReadModulesDep(modules_dir);
  std::map<std::string, std::string> by_name;  // "ext4" -> "kernel/fs/ext4/ext4.ko"
  for (const auto& [path, _] : deps) {
    std::string stem = fs::path(path).stem().string();
    std::replace(stem.begin(), stem.end(), '-', '_');
    by_name[stem] = path;
  }
  std::vector<std::string> order;
  std::set<std::string> placed;
  // Depth first: whatever a module needs is placed before it (modules.dep
  // lists the dependencies but not in an order they can load in).
  std::function<void(const std::string&)> place = [&](const std::string& path) {
    if (!placed.insert(path).second) return;
    for (const std::string& d : deps[path]) place(d);
    order.push_back(path);
  };
  for (const char* name : kWantedModules) {
    auto it = by_name.find(name);
    if (it != by_name.end()) {
      place(it->second);
    } else if (!IsBuiltIn(modules_dir, name)) {
      return Status::NotFound("kernel module " + std::string(name) + " is neither in " +
                              modules_dir + " nor built in");
    }
  }
  return order;
}

Result<std::string> BaseInitramfs(const GuestKernel& kernel, const std::string& cache_dir) {
  std::span<const uint8_t> init = GuestInitBinary();
  std::string modules;
  for (const char* name : kWantedModules) modules += std::string(name) + " ";
  Sha256 content;
  content.Update(init);
  content.Update(modules);
  std::string key = kernel.version + "-" + ToHex(content.Finish()).substr(0, 16) +
                    (kernel.modules_dir.empty() ? "-nomod" : "");
  std::string path = cache_dir + "/initramfs-" + key + ".cpio";
  std::error_code ec;
  if (fs::exists(path)) {
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // in use: kept
    return path;
  }
  fs::create_directories(cache_dir, ec);
  if (ec) return Status::IOError("create " + cache_dir + ": " + ec.message());
  LODE_ASSIGN_OR_RETURN(std::string bytes, BuildBase(kernel));
  LODE_RETURN_IF_ERROR(WriteFileAtomically(path, bytes));
  PruneUnused(cache_dir);
  return path;
}

Status WriteRunInitramfs(const std::string& base, const RunSpec& spec, const std::string& out) {
  LODE_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(base));
  bytes.resize((bytes.size() + 3) / 4 * 4, '\0');  // a later archive starts 4-byte aligned
  CpioWriter cpio(&bytes);
  LODE_RETURN_IF_ERROR(cpio.File(kGuestSpecPath, EncodeRunSpec(spec)));
  LODE_RETURN_IF_ERROR(cpio.Finish());
  return WriteFileAtomically(out, bytes);
}

}  // namespace lode::vm
