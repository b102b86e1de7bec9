// A function's sandbox: a container (crun) of the function's image,
// attached through the agent (lazily loaded, read-only, /tmp writable) and
// mounted through a loop device, in a network namespace of its own where
// 127.0.0.1:9001 is this sandbox's Runtime API and nothing else of the
// host's is (outbound NAT through slirp4netns unless the function has
// network "none"). It starts with Lambda's environment and lives across
// invocations until the host discards it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "catalog/function.h"
#include "functions/http_server.h"
#include "functions/runtime_api.h"
#include "sandbox/container.h"
#include "sandbox/mount.h"
#include "sandbox/network.h"
#include "util/status.h"

namespace lode::functions {

constexpr const char* kRuntimeApiAddress = "127.0.0.1:9001";

struct SandboxSpec {
  std::string id;        // unique on the host: names the container
  std::string work_dir;  // created; removed with the sandbox
  std::string agent_socket;
  int pid_namespace = -1;  // sandbox::PidNamespace to run in, if any
  std::string image_ref;   // ROOT/MANIFEST-ID, or file:PATH (catalog::IsLocalImage)
  catalog::FunctionConfig function;
  std::string function_arn;
  std::string region;
  bool prefetch = true;
  // The runtime's stdout and stderr as they come, on the sandbox's own
  // reader thread.
  std::function<void(std::string_view)> output;
};

// Where a cold start spent its time before the runtime ran (the network
// is set up while the image is attached and mounted).
struct StartPhases {
  double attach_seconds = 0, mount_seconds = 0, network_seconds = 0, spawn_seconds = 0;
};

class Sandbox {
 public:
  // Attaches, mounts, sets up the network and the Runtime API and starts
  // the runtime; returns without waiting for its initialization
  // (api().AwaitInit does).
  static Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);
  // Kills the runtime and releases everything (container, API, network,
  // mount, attachment, directory).
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  RuntimeApi& api() { return *api_; }
  const StartPhases& phases() const { return phases_; }
  const std::string& id() const { return spec_.id; }
  // The most memory the sandbox used in its life.
  uint64_t PeakMemoryBytes() const;
  // Ends the runtime now; pending calls of the API return.
  void Kill();

 private:
  explicit Sandbox(SandboxSpec spec);
  Status Launch();
  Status SetUpNetwork();
  void ReadOutput(UniqueFd from);
  void WaitForExit();

  SandboxSpec spec_;
  StartPhases phases_;
  std::unique_ptr<RuntimeApi> api_;
  std::string attachment_;
  std::unique_ptr<sandbox::Mount> mount_;
  std::unique_ptr<sandbox::NetworkNamespace> network_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<sandbox::Container> container_;
  std::thread reader_, waiter_;
};

// The sandbox's environment: the image's, then the function's, then
// Lambda's (which neither can override). KEY=VALUE strings.
std::vector<std::string> LambdaEnvironment(const std::vector<std::string>& image_env,
                                           const SandboxSpec& spec, const std::string& handler);

}  // namespace lode::functions
