#include "functions/sandbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/api.h"
#include "util/file.h"
#include "util/json_int.h"
#include "util/text.h"
#include "util/unix_socket.h"
#include "vm/initramfs.h"
#include "vm/run_spec.h"
#include "vm/snapshot_info.h"

namespace lode::functions {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<std::string> Strings(const json& config, const char* key) {
  std::vector<std::string> out;
  if (config.contains(key) && config[key].is_array()) {
    for (const json& s : config[key]) {
      if (s.is_string()) out.push_back(s);
    }
  }
  return out;
}

// What the runtime is started with: the image's entrypoint and cmd, the
// handler in place of the cmd when the function has one.
std::vector<std::string> Command(const json& config, const std::string& handler) {
  std::vector<std::string> command = Strings(config, "entrypoint");
  std::vector<std::string> cmd = handler.empty() ? Strings(config, "cmd") : std::vector{handler};
  command.insert(command.end(), cmd.begin(), cmd.end());
  return command;
}

// The handler Lambda reports in _HANDLER: the function's, else the image's
// cmd (what AWS base images hold there).
std::string HandlerOf(const json& config, const std::string& handler) {
  if (!handler.empty()) return handler;
  std::vector<std::string> cmd = Strings(config, "cmd");
  return cmd.empty() ? "" : cmd[0];
}

std::string ExitDescription(int code) {
  if (code > 128) return "Runtime exited with error: signal " + std::to_string(code - 128);
  return "Runtime exited with error: exit status " + std::to_string(code);
}

// A cold start waits through an agent's restart; a sandbox being discarded
// waits less: a host shutting down after its agent would otherwise wait
// this long for every sandbox. A detach that gives up leaves the
// attachment in the agent (`lode ps` lists it, `lode detach` ends it).
constexpr std::chrono::milliseconds kAttachPatience{10000}, kDetachPatience{2000};

constexpr int kMinVmMemoryMib = 256;

}  // namespace

std::vector<std::string> LambdaEnvironment(const std::vector<std::string>& image_env,
                                           const SandboxSpec& spec, const std::string& handler) {
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto set = [&](const std::string& key, const std::string& value) {
    if (env.emplace(key, value).second) {
      order.push_back(key);
    } else {
      env[key] = value;
    }
  };
  for (const std::string& e : image_env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) set(e.substr(0, eq), e.substr(eq + 1));
  }
  for (const auto& [key, value] : spec.function.environment) set(key, value);
  const catalog::FunctionConfig& f = spec.function;
  set("AWS_LAMBDA_RUNTIME_API", kRuntimeApiAddress);
  set("_HANDLER", handler);
  set("LAMBDA_TASK_ROOT", "/var/task");
  set("LAMBDA_RUNTIME_DIR", "/var/runtime");
  set("AWS_LAMBDA_FUNCTION_NAME", f.name);
  set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", std::to_string(f.memory_mib));
  set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
  set("AWS_LAMBDA_INITIALIZATION_TYPE",
      spec.snapstart == SnapStartPhase::kNone ? "on-demand" : "snap-start");
  set("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + f.name);
  set("AWS_LAMBDA_LOG_STREAM_NAME", spec.id);
  set("AWS_REGION", spec.region);
  set("AWS_DEFAULT_REGION", spec.region);
  set("TZ", ":UTC");
  std::vector<std::string> out;
  for (const std::string& key : order) out.push_back(key + "=" + env[key]);
  return out;
}

Sandbox::Sandbox(SandboxSpec spec)
    : spec_(std::move(spec)),
      api_(std::make_unique<RuntimeApi>(spec_.function_arn, spec_.snapstart)) {}

Result<std::unique_ptr<Sandbox>> Sandbox::Start(const SandboxSpec& spec) {
  std::unique_ptr<Sandbox> s(new Sandbox(spec));
  LODE_RETURN_IF_ERROR(s->Launch());
  return s;
}

bool Sandbox::IsVm() const { return spec_.function.sandbox == "vm"; }

Status Sandbox::SetUpNetwork() {
  Clock::time_point t = Clock::now();
  LODE_ASSIGN_OR_RETURN(network_, sandbox::NetworkNamespace::Create());
  // A container's runtime reaches the API in its network namespace; a
  // VM's through the guest's relay, which ends at a Unix socket.
  UniqueFd api_socket;
  if (IsVm()) {
    LODE_ASSIGN_OR_RETURN(api_socket, ListenUnix(spec_.work_dir + "/runtime-api.sock", 0600));
  } else {
    LODE_ASSIGN_OR_RETURN(api_socket, network_->Listen("127.0.0.1", 9001));
  }
  HttpServer::Options api_options;
  api_options.max_body = kMaxPayloadBytes;
  RuntimeApi* api = api_.get();
  LODE_ASSIGN_OR_RETURN(server_,
                        HttpServer::Serve(std::move(api_socket), api_options,
                                          [api](const HttpRequest& r) { return api->Handle(r); }));
  if (spec_.function.network != "none") LODE_RETURN_IF_ERROR(network_->ConnectOutbound());
  phases_.network_seconds = SecondsSince(t);
  return Status::Ok();
}

Status Sandbox::Launch() {
  if (IsVm() && !spec_.vm) {
    return Status::FailedPrecondition("this host runs no microVMs: " + spec_.vm_unavailable);
  }
  std::error_code ec;
  fs::create_directories(spec_.work_dir, ec);
  if (ec) return Status::IOError("create " + spec_.work_dir + ": " + ec.message());
  // The network comes up while the image is attached (and mounted).
  std::future<Status> network = std::async(std::launch::async, [this] { return SetUpNetwork(); });
  Clock::time_point t = Clock::now();
  json attached;
  if (catalog::IsLocalImage(spec_.image_ref)) {
    std::string path = spec_.image_ref.substr(5);
    LODE_ASSIGN_OR_RETURN(std::string config, ReadFileToString(path + ".config.json"));
    attached = {{"path", path}, {"config", config}};
  } else {
    LODE_ASSIGN_OR_RETURN(attached, agent::CallAgentPatiently(spec_.agent_socket,
                                                              {{"op", "attach"},
                                                               {"ref", spec_.image_ref},
                                                               {"tenant", spec_.function.tenant},
                                                               {"writable", false},
                                                               {"prefetch", spec_.prefetch}},
                                                              kAttachPatience));
    attachment_ = attached.value("id", "");
  }
  phases_.attach_seconds = SecondsSince(t);
  if (spec_.snapstart == SnapStartPhase::kRestored) {
    LODE_RETURN_IF_ERROR(network.get());
    return LaunchRestoredVm(attached["path"], attached.value("config", ""),
                            attached.value("image_bytes", uint64_t{0}));
  }
  std::string config_text = attached.value("config", "{}");
  json config = json::parse(config_text, nullptr, false);
  if (!config.is_object()) config = json::object();
  std::vector<std::string> command = Command(config, spec_.function.handler);
  if (command.empty()) {
    network.wait();
    return Status::InvalidArgument(
        "the image has no entrypoint or cmd and the function no handler");
  }
  if (IsVm()) {
    LODE_RETURN_IF_ERROR(network.get());
    return LaunchVm(attached["path"], config_text, command);
  }
  Status launched = LaunchContainer(attached["path"], config_text, command);
  Status networked = network.get();
  LODE_RETURN_IF_ERROR(launched);
  LODE_RETURN_IF_ERROR(networked);
  return StartContainer();
}

Status Sandbox::LaunchContainer(const std::string& image_file, const std::string& config_text,
                                const std::vector<std::string>& command) {
  Clock::time_point t = Clock::now();
  std::string rootfs = spec_.work_dir + "/rootfs";
  LODE_ASSIGN_OR_RETURN(mount_, sandbox::Mount::Ext4(image_file, rootfs, false));
  phases_.mount_seconds = SecondsSince(t);
  LODE_ASSIGN_OR_RETURN(process_, sandbox::ProcessFromConfig(config_text, command, rootfs));
  json config = json::parse(config_text, nullptr, false);
  process_.env = LambdaEnvironment(process_.env, spec_, HandlerOf(config, spec_.function.handler));
  return Status::Ok();
}

Status Sandbox::StartContainer() {
  Clock::time_point t = Clock::now();
  std::string rootfs = spec_.work_dir + "/rootfs";
  sandbox::ContainerSpec c;
  c.rootfs = rootfs;
  c.process = process_;
  c.work_dir = spec_.work_dir;
  c.name = spec_.id;
  c.network_namespace = network_->Path();
  if (spec_.function.network != "none" && fs::exists(rootfs + "/etc/resolv.conf")) {
    std::string resolv = spec_.work_dir + "/resolv.conf";
    LODE_RETURN_IF_ERROR(WriteFileAtomically(resolv, sandbox::kOutboundResolvConf,
                                             AtomicFile::Durability::kUnsynced));
    c.file_binds.emplace_back(resolv, "/etc/resolv.conf");
  }
  c.memory_limit_bytes = static_cast<uint64_t>(spec_.function.memory_mib) << 20;
  c.pid_namespace = spec_.pid_namespace;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  c.stdout_fd = c.stderr_fd = write_end.get();
  LODE_ASSIGN_OR_RETURN(container_, sandbox::Container::Start(c));
  write_end.Reset();  // the container holds the only writers now: EOF when it ends
  phases_.spawn_seconds = SecondsSince(t);
  reader_ = std::thread([this, fd = std::move(read_end)]() mutable { ReadOutput(std::move(fd)); });
  waiter_ = std::thread([this] { WaitForExit(); });
  return Status::Ok();
}

vm::VmConfig Sandbox::FunctionVmConfig(const std::string& image_file) const {
  vm::VmConfig c;
  c.kernel = spec_.vm->kernel;
  c.accel = spec_.vm->accel;
  // The function's memory is the VM's, but a guest kernel needs room of
  // its own below the smallest Lambda size.
  c.memory_mib = std::max<int>(static_cast<int>(spec_.function.memory_mib), kMinVmMemoryMib);
  c.work_dir = spec_.work_dir;
  c.initramfs = spec_.work_dir + "/initramfs.cpio";
  c.disk = image_file;
  c.network = spec_.function.network != "none";
  c.network_namespace = network_->Path();
  c.runtime_api = true;
  return c;
}

Status Sandbox::StartVm(const vm::VmConfig& c) {
  vm_config_ = c;
  auto output = [this](std::string_view text) {
    if (spec_.output) spec_.output(text);
  };
  LODE_ASSIGN_OR_RETURN(vm_,
                        vm::BackgroundVm::Start(c, output, spec_.work_dir + "/runtime-api.sock"));
  waiter_ = std::thread([this] { WaitForExit(); });
  return Status::Ok();
}

Status Sandbox::LaunchRestoredVm(const std::string& file, const std::string& description,
                                 uint64_t file_bytes) {
  Clock::time_point t = Clock::now();
  LODE_ASSIGN_OR_RETURN(std::optional<vm::SnapshotInfo> info,
                        vm::DecodeSnapshotInfo(description, file_bytes));
  if (!info) return Status::InvalidArgument(spec_.image_ref + " is not a snapshot");
  vm::VmConfig c = FunctionVmConfig(file);
  c.initramfs = spec_.vm->base_initramfs;  // what QEMU is handed; the guest booted long ago
  c.memory_file = file;
  c.memory_shared = false;
  c.disk_offset = info->disk_offset;
  c.disk_bytes = info->disk_bytes;
  std::string here = vm::DeviceSignature(c, spec_.vm->qemu_version);
  if (info->accel != vm::AccelName(c.accel) || here != info->device_signature) {
    return Status::FailedPrecondition("the snapshot was taken on another VM (" + info->accel +
                                      ", " + Excerpt(info->device_signature, 80) +
                                      "): this host cannot restore it");
  }
  c.incoming_state = spec_.work_dir + "/state";
  LODE_RETURN_IF_ERROR(
      CopyRangeToFile(file, info->state_offset, info->state_bytes, c.incoming_state));
  snapshot_regions_ = vm::SnapshotRegions(*info);
  LODE_RETURN_IF_ERROR(StartVm(c));
  phases_.spawn_seconds = SecondsSince(t);
  return Status::Ok();
}

std::vector<RegionLoad> Sandbox::SnapshotLoads() const {
  if (snapshot_regions_.empty() || attachment_.empty()) return {};
  Result<json> reply = agent::CallAgent(
      spec_.agent_socket, {{"op", "regions"}, {"id", attachment_}, {"regions", snapshot_regions_}});
  if (!reply.ok()) return {};
  std::vector<RegionLoad> loads;
  for (const json& r : (*reply)["regions"]) {
    loads.push_back({r.value("name", ""), r.value("chunks_stored", uint64_t{0}),
                     r.value("chunks_loaded", uint64_t{0}), r.value("chunks_fetched", uint64_t{0}),
                     r.value("fetched_bytes", uint64_t{0})});
  }
  return loads;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> Sandbox::GuestMemoryPagesRead() const {
  if (snapshot_regions_.empty() || attachment_.empty()) {
    return Status::FailedPrecondition("the sandbox is not a restored microVM");
  }
  LODE_ASSIGN_OR_RETURN(
      json reply, agent::CallAgent(spec_.agent_socket, {{"op", "pages"},
                                                        {"id", attachment_},
                                                        {"offset", 0},
                                                        {"bytes", snapshot_regions_[0]["bytes"]}}));
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  try {
    if (IntegerOf<uint64_t>(reply.at("page_size")) != vm::kSnapshotPageSize) {
      return Status::Unavailable("the agent counts pages of another size");
    }
    for (const json& run : reply.at("runs")) {
      runs.emplace_back(IntegerOf<uint64_t>(run.at(0)), IntegerOf<uint64_t>(run.at(1)));
    }
  } catch (const json::exception& e) {
    return Status::Unavailable(std::string("the agent's answer to pages: ") + e.what());
  }
  return runs;
}

Result<vm::SavedVm> Sandbox::SaveVm(const std::string& state_file) {
  if (!vm_) return Status::FailedPrecondition("the sandbox is not a microVM");
  return vm_->SaveAndQuit(state_file);
}

Status Sandbox::LaunchVm(const std::string& image_file, const std::string& config_text,
                         const std::vector<std::string>& command) {
  Clock::time_point t = Clock::now();
  json config = json::parse(config_text, nullptr, false);
  vm::VmConfig c = FunctionVmConfig(image_file);
  if (spec_.snapstart == SnapStartPhase::kPublishing) {
    c.memory_file = spec_.memory_file;
    c.memory_shared = true;
  }
  vm::RunSpec run;
  run.config_json = config_text;
  run.command = command;
  run.network = c.network ? vm::kUserNetwork : vm::GuestNetwork{};
  run.env =
      LambdaEnvironment(Strings(config, "env"), spec_, HandlerOf(config, spec_.function.handler));
  run.runtime_api = true;
  LODE_RETURN_IF_ERROR(vm::WriteRunInitramfs(spec_.vm->base_initramfs, run, c.initramfs));
  LODE_RETURN_IF_ERROR(StartVm(c));
  phases_.spawn_seconds = SecondsSince(t);
  return Status::Ok();
}

void Sandbox::ReadOutput(UniqueFd from) {
  char buf[16384];
  while (true) {
    ssize_t n = ::read(from.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (spec_.output) spec_.output(std::string_view(buf, static_cast<size_t>(n)));
  }
}

void Sandbox::WaitForExit() {
  Result<int> code = 0;
  if (vm_) {
    Result<vm::VmRun> run = vm_->Wait();
    code = run.ok() ? Result<int>(run->exit_code) : Result<int>(run.status());
  } else {
    code = container_->Wait();
  }
  api_->Close(code.ok() ? ExitDescription(*code) : "Runtime exited: " + code.status().message());
}

void Sandbox::Kill() {
  if (container_) container_->Kill();
  if (vm_) vm_->Kill();
}

uint64_t Sandbox::PeakMemoryBytes() const {
  if (vm_) return vm_->PeakMemoryBytes();
  return container_ ? container_->PeakMemoryBytes() : 0;
}

Sandbox::~Sandbox() {
  Kill();
  if (waiter_.joinable()) waiter_.join();
  api_->Close("the sandbox was discarded");
  server_.reset();
  if (reader_.joinable()) reader_.join();
  container_.reset();
  vm_.reset();
  network_.reset();
  if (mount_) (void)mount_->Unmount();
  mount_.reset();
  if (!attachment_.empty()) {
    (void)agent::CallAgentPatiently(spec_.agent_socket, {{"op", "detach"}, {"id", attachment_}},
                                    kDetachPatience);
  }
  std::error_code ec;
  fs::remove_all(spec_.work_dir, ec);
}

}  // namespace lode::functions
