// lode function publish: SnapStart's snapshot of a function. Boots the
// function's microVM as a cold start would, lets its runtime initialize
// until it asks for restore/next (its before-snapshot hooks ran) or, a
// runtime without hooks, for its first event, then saves the VM and pushes
// it as a snapshot tagged function.NAME.snapstart, which cold starts
// restore.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/function.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "functions/sandbox.h"
#include "push/snapshot.h"
#include "sandbox/mount.h"
#include "util/size.h"
#include "vm/snapshot_info.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct PublishArgs {
  AgentDaemonArgs agent;
  std::string socket, name, tenant, region = "us-east-1", kernel, accel = "auto";
  double init_timeout = 600;
  bool json_output = false;
};

struct Published {
  vm::SavedVm saved;
  vm::SnapshotInfo info;
  bool hooks = false;
};

// Boots the function in a microVM whose memory is `dir`/memory, waits for
// its runtime's snapshot point and saves the VM.
Published BootAndSave(const PublishArgs& a, const catalog::FunctionConfig& f,
                      const store::ImageRef& image, const functions::VmSandboxSettings& vms,
                      const std::string& dir) {
  SessionAgent agent = ReachAgent(a.socket, a.agent, dir);
  functions::SandboxSpec spec;
  spec.id = "lode-publish-" + std::to_string(::getpid());
  spec.work_dir = dir + "/sandbox";
  spec.agent_socket = agent.socket;
  spec.image_ref = image.ToString();
  spec.function = f;
  spec.function_arn = "arn:aws:lambda:" + a.region + ":" + f.tenant + ":function:" + f.name;
  spec.region = a.region;
  spec.prefetch = a.agent.prefetch != "off";
  spec.vm = vms;
  spec.snapstart = functions::SnapStartPhase::kPublishing;
  spec.memory_file = dir + "/memory";
  spec.output = [](std::string_view text) {
    (void)!std::fwrite(text.data(), 1, text.size(), stderr);
  };
  std::fprintf(stderr, "lode function publish: booting %s and initializing its runtime\n",
               f.name.c_str());
  std::unique_ptr<functions::Sandbox> sandbox = Check(functions::Sandbox::Start(spec));
  std::optional<functions::InvocationEnd> failed = sandbox->api().AwaitSnapshotPoint(
      std::chrono::milliseconds(static_cast<int64_t>(a.init_timeout * 1000)));
  if (failed) {
    Check(Status::Unavailable("the runtime's initialization failed (" + failed->error_type +
                              "): " + failed->body + ": nothing published"));
  }
  Published p;
  p.hooks = sandbox->api().has_restore_hooks();
  p.saved = Check(sandbox->SaveVm(dir + "/state"));
  const vm::VmConfig& c = sandbox->vm_config();
  p.info.memory_mib = c.memory_mib;
  p.info.cpus = c.cpus;
  p.info.network = c.network;
  p.info.accel = vm::AccelName(c.accel);
  p.info.device_signature = vm::DeviceSignature(c, vms.qemu_version);
  return p;  // the sandbox goes: its image is detached, the memory file stays
}

void Publish(const PublishArgs& a) {
  auto store = a.agent.store.Open();
  auto keys = a.agent.keys.Open();
  std::optional<catalog::FunctionConfig> f =
      Check(catalog::GetFunction(*store, *keys, a.tenant, a.name));
  if (!f) Check(Status::NotFound("no function " + a.name + " for tenant " + a.tenant));
  if (!f->snapstart) {
    Check(Status::InvalidArgument("function " + a.name +
                                  " is not SnapStart (lode function update " + a.name +
                                  " --vm --snapstart)"));
  }
  store::ImageRef image =
      Check(catalog::ResolveRef(*store, a.tenant, catalog::FunctionImageTag(a.name)));
  manifest::Manifest manifest = Check(catalog::OpenManifest(*store, image, *keys, a.tenant));
  functions::VmSandboxSettings vms = Check(PlanFunctionVms(a.kernel, a.accel, "function publish"));
  Check(sandbox::EnterPrivateMountNamespace());
  RunDir dir;
  Published p = BootAndSave(a, *f, image, vms, dir.path());

  p.info.kernel_version = vms.kernel_version;
  push::PushResult pushed = PushSavedVm(dir.path(), image, manifest, p.saved.state_bytes, p.info,
                                        a.tenant, *keys, *store);
  Check(catalog::SetTag(*store, a.tenant, catalog::FunctionSnapshotTag(a.name), pushed.ref));
  if (a.json_output) {
    std::printf("%s\n", json{{"function", a.name},
                             {"snapshot", pushed.ref.ToString()},
                             {"snapshot_bytes", pushed.image_bytes},
                             {"runtime_hooks", p.hooks},
                             {"ready_seconds", p.saved.boot_seconds},
                             {"save_seconds", p.saved.save_seconds},
                             {"chunks_new", pushed.chunks_new},
                             {"bytes_uploaded", pushed.bytes_uploaded}}
                            .dump()
                            .c_str());
    return;
  }
  std::printf(
      "published %s: snapshot %s, %s (ready after %.2f s, runtime hooks: %s; %s uploaded)\n",
      a.name.c_str(), pushed.ref.ToString().c_str(), FormatSize(pushed.image_bytes).c_str(),
      p.saved.boot_seconds, p.hooks ? "yes" : "no", FormatSize(pushed.bytes_uploaded).c_str());
}

}  // namespace

void RegisterFunctionPublish(CLI::App* function) {
  auto a = std::make_shared<PublishArgs>();
  CLI::App* cmd = function->add_subcommand(
      "publish",
      "SnapStart: boot the function's microVM, initialize its runtime and push a snapshot that "
      "its cold starts restore");
  cmd->add_option("name", a->name, "function name")->required();
  cmd->add_option("--tenant", a->tenant, "tenant owning the function")->required();
  cmd->add_option("--init-timeout", a->init_timeout, "seconds the runtime may take to initialize")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--region", a->region, "AWS_REGION the runtime sees (as lode serve's)")
      ->capture_default_str();
  cmd->add_option("--kernel", a->kernel,
                  "guest kernel (as lode serve's; default: the newest /boot/vmlinuz-*)");
  cmd->add_option("--accel", a->accel, "auto, kvm or tcg (as lode serve's)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_flag("--json", a->json_output, "print one JSON object");
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Publish(*a); });
}

}  // namespace lode::cli
