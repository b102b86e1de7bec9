// lode function publish: SnapStart's snapshot of a function. Boots the
// function's microVM as a cold start would, lets its runtime initialize
// until it asks for restore/next (its before-snapshot hooks ran) or, a
// runtime without hooks, for its first event, then saves the VM and pushes
// it as a snapshot. Restores it once, as a cold start would, until its
// runtime asks for an event, and pushes it again with the guest memory
// pages that restore read stored together: the snapshot tagged
// function.NAME.snapstart, which cold starts restore.
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
#include "util/text.h"
#include "vm/snapshot_info.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct PublishArgs {
  AgentDaemonArgs agent;
  std::string socket, name, tenant, region = "us-east-1", kernel, accel = "auto";
  std::string sample_event;
  double init_timeout = 600;
  bool json_output = false;
};

struct Published {
  vm::SavedVm saved;
  vm::SnapshotInfo info;
  bool hooks = false;
};

// A sandbox of the function, as lode serve would start it.
functions::SandboxSpec SpecFor(const PublishArgs& a, const catalog::FunctionConfig& f,
                               const functions::VmSandboxSettings& vms, const std::string& socket,
                               const std::string& work_dir) {
  functions::SandboxSpec spec;
  spec.id = "lode-publish-" + std::to_string(::getpid());
  spec.work_dir = work_dir;
  spec.agent_socket = socket;
  spec.function = f;
  spec.function_arn = "arn:aws:lambda:" + a.region + ":" + f.tenant + ":function:" + f.name;
  spec.region = a.region;
  spec.prefetch = a.agent.prefetch != "off";
  spec.vm = vms;
  spec.output = [](std::string_view text) {
    (void)!std::fwrite(text.data(), 1, text.size(), stderr);
  };
  return spec;
}

std::chrono::milliseconds InitLimit(const PublishArgs& a) {
  return std::chrono::milliseconds(static_cast<int64_t>(a.init_timeout * 1000));
}

// Boots the function in a microVM whose memory is `dir`/memory, waits for
// its runtime's snapshot point and saves the VM.
Published BootAndSave(const PublishArgs& a, const catalog::FunctionConfig& f,
                      const store::ImageRef& image, const functions::VmSandboxSettings& vms,
                      const std::string& socket, const std::string& dir) {
  functions::SandboxSpec spec = SpecFor(a, f, vms, socket, dir + "/sandbox");
  spec.image_ref = image.ToString();
  spec.snapstart = functions::SnapStartPhase::kPublishing;
  spec.memory_file = dir + "/memory";
  std::fprintf(stderr, "lode function publish: booting %s and initializing its runtime\n",
               f.name.c_str());
  std::unique_ptr<functions::Sandbox> sandbox = Check(functions::Sandbox::Start(spec));
  std::optional<functions::InvocationEnd> failed = sandbox->api().AwaitSnapshotPoint(InitLimit(a));
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

// Hands the restored sandbox the sample event, so that what its handler
// reads is stored with what the restore read. Whatever the handler
// answers, the pages it read are the ones a first invocation reads.
void SampleInvoke(const PublishArgs& a, const catalog::FunctionConfig& f,
                  functions::Sandbox& sandbox) {
  functions::Invocation invocation;
  invocation.request_id = functions::NewRequestId();
  invocation.payload = a.sample_event;
  invocation.trace_id = functions::NewTraceId();
  invocation.timeout = std::chrono::seconds(f.timeout_seconds);
  functions::InvocationEnd end = sandbox.api().Invoke(invocation);
  if (end.outcome != functions::Outcome::kResponse) {
    std::fprintf(stderr, "lode function publish: the sample event ended in %s: %s\n",
                 end.error_type.c_str(), Excerpt(end.body, 200).c_str());
  }
}

// Restores `snapshot` as a cold start would, until its runtime asks for an
// event (its after-restore hooks ran) and, with a sample event, through
// that event's invocation; returns the guest memory pages it read. None,
// and why on stderr, when the restore failed.
push::PageRuns RecordRestore(const PublishArgs& a, const catalog::FunctionConfig& f,
                             const store::ImageRef& snapshot,
                             const functions::VmSandboxSettings& vms, const std::string& socket,
                             const std::string& dir) {
  functions::SandboxSpec spec = SpecFor(a, f, vms, socket, dir + "/restore");
  spec.image_ref = snapshot.ToString();
  spec.snapstart = functions::SnapStartPhase::kRestored;
  spec.prefetch = false;  // what the guest reads, not what a profile says
  std::fprintf(stderr, "lode function publish: restoring it once to record what a restore reads\n");
  auto unpacked = [](const std::string& why) {
    std::fprintf(stderr,
                 "lode function publish: the recording restore failed (%s): its memory is "
                 "stored unpacked\n",
                 why.c_str());
    return push::PageRuns();
  };
  Result<std::unique_ptr<functions::Sandbox>> sandbox = functions::Sandbox::Start(spec);
  if (!sandbox.ok()) return unpacked(sandbox.status().message());
  if (std::optional<functions::InvocationEnd> failed = (*sandbox)->api().AwaitInit(InitLimit(a))) {
    return unpacked(failed->error_type + ": " + Excerpt(failed->body, 200));
  }
  if (!a.sample_event.empty()) SampleInvoke(a, f, **sandbox);
  Result<push::PageRuns> pages = (*sandbox)->GuestMemoryPagesRead();
  if (!pages.ok()) return unpacked(pages.status().message());
  return *pages;
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
  SessionAgent agent = ReachAgent(a.socket, a.agent, dir.path());
  Published p = BootAndSave(a, *f, image, vms, agent.socket, dir.path());
  p.info.kernel_version = vms.kernel_version;
  // The first push is only restored once, to learn what a restore reads;
  // untagged, gc removes it.
  vm::SnapshotInfo unpacked = p.info;
  push::PushResult first = PushSavedVm(dir.path(), image, manifest, p.saved.state_bytes, {},
                                       unpacked, a.tenant, *keys, *store);
  push::PageRuns touched = RecordRestore(a, *f, first.ref, vms, agent.socket, dir.path());
  push::PushResult pushed = touched.empty()
                                ? first
                                : PushSavedVm(dir.path(), image, manifest, p.saved.state_bytes,
                                              touched, p.info, a.tenant, *keys, *store);
  Check(catalog::SetTag(*store, a.tenant, catalog::FunctionSnapshotTag(a.name), pushed.ref));
  uint64_t uploaded = first.bytes_uploaded + (touched.empty() ? 0 : pushed.bytes_uploaded);
  if (a.json_output) {
    std::printf("%s\n", json{{"function", a.name},
                             {"snapshot", pushed.ref.ToString()},
                             {"snapshot_bytes", pushed.image_bytes},
                             {"runtime_hooks", p.hooks},
                             {"packed_bytes", p.info.packed_bytes},
                             {"ready_seconds", p.saved.boot_seconds},
                             {"save_seconds", p.saved.save_seconds},
                             {"chunks_new", pushed.chunks_new},
                             {"bytes_uploaded", uploaded}}
                            .dump()
                            .c_str());
    return;
  }
  std::printf(
      "published %s: snapshot %s, %s (ready after %.2f s, runtime hooks: %s; a restore reads %s "
      "of memory, stored together; %s uploaded)\n",
      a.name.c_str(), pushed.ref.ToString().c_str(), FormatSize(pushed.image_bytes).c_str(),
      p.saved.boot_seconds, p.hooks ? "yes" : "no", FormatSize(p.info.packed_bytes).c_str(),
      FormatSize(uploaded).c_str());
}

}  // namespace

void RegisterFunctionPublish(CLI::App* function) {
  auto a = std::make_shared<PublishArgs>();
  CLI::App* cmd = function->add_subcommand(
      "publish",
      "SnapStart: boot the function's microVM, initialize its runtime and push a snapshot that "
      "its cold starts restore (restored once to store what a restore reads together)");
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
  cmd->add_option("--sample-event", a->sample_event,
                  "an event (JSON) the recording restore is invoked with, so that what the "
                  "handler reads is stored with what the restore reads: the handler runs once "
                  "at publish")
      ->check([](const std::string& text) {
        if (text.size() > functions::kMaxPayloadBytes) return std::string("larger than 6 MB");
        return json::accept(text) ? std::string() : std::string("not JSON");
      });
  cmd->add_flag("--json", a->json_output, "print one JSON object");
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Publish(*a); });
}

}  // namespace lode::cli
