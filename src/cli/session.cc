#include "cli/session.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/api.h"
#include "cli/output.h"
#include "util/child.h"
#include "util/size.h"

namespace lode::cli {

namespace fs = std::filesystem;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

RunDir::RunDir() {
  std::string tmpl = (fs::temp_directory_path() / "lode-run-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) Check(Status::FromErrno(errno, "create " + tmpl));
  path_ = tmpl;
}

RunDir::~RunDir() {
  if (!keep_) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
}

PrivateAgent::PrivateAgent(const AgentDaemonArgs& args, const std::string& dir)
    : socket_(dir + "/agent.sock"), log_(dir + "/agent.log") {
  std::vector<std::string> argv = {"lode"};
  for (std::string& a : args.PrivateAgentArgs(socket_, dir + "/images")) argv.push_back(a);
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  pid_t lode = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) Check(Status::FromErrno(errno, "fork the agent"));
  if (pid_ == 0) {
    EndWithParent(lode, SIGTERM);  // serves only this run, however it ends
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    ::execv("/proc/self/exe", c_argv.data());
    _exit(127);
  }
  WaitUntilServing();
}

PrivateAgent::~PrivateAgent() {
  ::kill(pid_, SIGTERM);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void PrivateAgent::WaitUntilServing() {
  for (int i = 0; i < 1500; ++i) {
    if (agent::CallAgent(socket_, {{"op", "ping"}}).ok()) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      std::ifstream in(log_);
      std::string line, last;
      while (std::getline(in, line)) last = line;
      pid_ = -1;
      Check(Status::Unavailable("the private agent did not start: " + last));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Check(Status::Unavailable("the private agent did not answer within 15 s"));
}

SessionAgent ReachAgent(const std::string& socket, const AgentDaemonArgs& args,
                        const std::string& dir) {
  SessionAgent a{socket.empty() ? DefaultAgentSocket() : socket, nullptr};
  if (!agent::CallAgent(a.socket, {{"op", "ping"}}).ok()) {
    if (!socket.empty()) AskAgent(socket, {{"op", "ping"}});  // the one asked for: fail
    a.private_agent = std::make_unique<PrivateAgent>(args, dir);
    a.socket = a.private_agent->socket();
  }
  return a;
}

AttachedImage::~AttachedImage() {
  if (!id.empty()) (void)agent::CallAgent(socket, {{"op", "detach"}, {"id", id}});
}

nlohmann::json FindAttachment(const std::string& socket, const std::string& id) {
  nlohmann::json list = AskAgent(socket, {{"op", "list"}});
  for (const nlohmann::json& a : list["attachments"]) {
    if (a["id"] == id) return a;
  }
  return nlohmann::json::object();
}

void VmArgs::Add(CLI::App* cmd) {
  memory_option_ = cmd->add_option("--vm-memory", memory_mib, "microVM memory in MiB")
                       ->capture_default_str()
                       ->check(CLI::Range(64, 1 << 20));
  cpus_option_ = cmd->add_option("--vm-cpus", cpus, "microVM vCPUs")
                     ->capture_default_str()
                     ->check(CLI::Range(1, 64));
  network_option_ =
      cmd->add_option("--network", network,
                      "microVM network: user (outbound through QEMU's user-mode NAT; the host "
                      "is the gateway, 10.0.2.2) or none (loopback only)")
          ->capture_default_str()
          ->check(CLI::IsMember({"user", "none"}));
  cmd->add_option("--accel", accel, "auto (KVM where the CPU virtualizes, else TCG), kvm or tcg")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_option("--kernel", kernel,
                  "guest kernel bzImage (default: the newest /boot/vmlinuz-*; its modules from "
                  "/lib/modules)");
}

std::string VmArgs::AsksOtherThan(int snapshot_memory_mib, int snapshot_cpus,
                                  bool snapshot_network) const {
  auto given = [](const CLI::Option* option) { return option != nullptr && option->count() > 0; };
  if (given(memory_option_) && memory_mib != snapshot_memory_mib) {
    return std::to_string(snapshot_memory_mib) + " MiB of memory";
  }
  if (given(cpus_option_) && cpus != snapshot_cpus) {
    return std::to_string(snapshot_cpus) + " vCPUs";
  }
  if (given(network_option_) && has_network() != snapshot_network) {
    return snapshot_network ? "a network" : "no network";
  }
  return "";
}

VmPlan PlanVm(const VmArgs& args, const std::string& verb) {
  VmPlan plan;
  vm::Accel wanted = Check(vm::ParseAccel(args.accel));
  Check(vm::CheckQemu(vm::kQemu));
  plan.kernel = Check(vm::FindGuestKernel(args.kernel));
  plan.accel = Check(vm::ChooseAccel(wanted));
  if (!plan.accel.notice.empty()) {
    std::fprintf(stderr, "lode %s: %s\n", verb.c_str(), plan.accel.notice.c_str());
  }
  return plan;
}

vm::VmConfig VmConfigFor(const VmPlan& plan, const std::string& dir, int memory_mib, int cpus,
                         bool network) {
  vm::VmConfig config;
  config.network = network;
  config.kernel = plan.kernel.image;
  config.initramfs = dir + "/initramfs.cpio";
  config.accel = plan.accel.accel;
  config.memory_mib = memory_mib;
  config.cpus = cpus;
  config.work_dir = dir;
  return config;
}

Result<functions::VmSandboxSettings> PlanFunctionVms(const std::string& kernel,
                                                     const std::string& accel,
                                                     const std::string& verb) {
  LODE_RETURN_IF_ERROR(vm::CheckQemu(vm::kQemu));
  LODE_ASSIGN_OR_RETURN(vm::Accel wanted, vm::ParseAccel(accel));
  LODE_ASSIGN_OR_RETURN(vm::GuestKernel guest, vm::FindGuestKernel(kernel));
  LODE_ASSIGN_OR_RETURN(vm::AccelChoice chosen, vm::ChooseAccel(wanted));
  functions::VmSandboxSettings settings;
  settings.kernel = guest.image;
  settings.accel = chosen.accel;
  LODE_ASSIGN_OR_RETURN(settings.base_initramfs, vm::BaseInitramfs(guest, DataDir() + "/vm"));
  LODE_ASSIGN_OR_RETURN(settings.qemu_version, vm::QemuVersion(vm::kQemu));
  settings.kernel_version = guest.version;
  if (!chosen.notice.empty()) {
    std::fprintf(stderr, "lode %s: %s\n", verb.c_str(), chosen.notice.c_str());
  }
  return settings;
}

push::PushResult PushSavedVm(const std::string& dir, const store::ImageRef& ref,
                             const manifest::Manifest& image, uint64_t state_bytes,
                             const push::PageRuns& touched, vm::SnapshotInfo& info,
                             const std::string& tenant, keys::KeyService& keys,
                             store::ObjectStore& store) {
  info.image = ref.ToString();
  info.image_config = image.image_config;
  info.created = static_cast<int64_t>(std::time(nullptr));
  uint64_t memory_bytes = static_cast<uint64_t>(info.memory_mib) << 20;
  push::SnapshotParts parts;
  parts.memory_file = dir + "/memory";
  parts.state_file = dir + "/state";
  if (!touched.empty()) {
    parts.packed_pages =
        Check(push::PackablePages(parts.memory_file, memory_bytes, image.chunk_size, touched));
  }
  uint64_t packed_bytes = 0;
  for (auto [page, count] : parts.packed_pages) packed_bytes += count * push::kMemoryPageSize;
  push::SnapshotLayout layout =
      push::LayOutSnapshot(memory_bytes, packed_bytes, state_bytes, image);
  info.memory_bytes = layout.memory_bytes;
  if (packed_bytes > 0) {
    info.packed_offset = layout.packed_offset;
    info.packed_bytes = layout.packed_bytes;
    info.packed_pages = parts.packed_pages;
  }
  info.state_offset = layout.state_offset;
  info.state_bytes = layout.state_bytes;
  info.disk_offset = layout.disk_offset;
  info.disk_bytes = layout.disk_bytes;
  std::fprintf(stderr, "lode: pushing %s of memory%s and %s of device state\n",
               FormatSize(layout.memory_bytes).c_str(),
               packed_bytes > 0
                   ? (" (" + FormatSize(packed_bytes) + " a restore reads stored together)").c_str()
                   : "",
               FormatSize(layout.state_bytes).c_str());
  parts.image = ref;
  parts.image_manifest = &image;
  parts.layout = layout;
  parts.config = vm::EncodeSnapshotInfo(info);
  push::PushOptions options;
  options.tenant = tenant;
  return Check(push::PushSnapshot(parts, options, keys, store));
}

vm::GuestNetwork GuestNetworkOf(const vm::VmConfig& config) {
  return config.network ? vm::kUserNetwork : vm::GuestNetwork{};
}

}  // namespace lode::cli
