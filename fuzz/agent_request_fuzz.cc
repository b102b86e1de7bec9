// Requests on the agent's socket, answered as the socket server answers
// them (agent/api.h AnswerRequest, agent/daemon.h HandleRequest): an agent
// over a dir:// store holding one small image of tenant "t", tagged "app",
// so attach, detach and list reach real attachments. Attachments are ended
// after each input.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/agent.h"
#include "agent/api.h"
#include "agent/daemon.h"
#include "catalog/catalog.h"
#include "image/image.h"
#include "keys/key_service.h"
#include "push/push.h"
#include "store/object_store.h"
#include "testing/layer_builder.h"
#include "util/file.h"

namespace {

using namespace lode;

void Require(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "agent_request fixture: %s\n", s.ToString().c_str());
    std::abort();
  }
}

class Fixture {
 public:
  Fixture() {
    char pattern[] = "/tmp/lode-fuzz-agent.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir_ = pattern;
    std::string store_url = "dir://" + dir_ + "/store";
    Result<std::unique_ptr<keys::KeyService>> keys = keys::OpenLocalKeyService(dir_ + "/keys");
    Require(keys.status());
    Require((*keys)->CreateTenant("t").status());
    PushImage(store_url, **keys);
    agent::AgentOptions options;
    options.cache_dir = dir_ + "/cache";
    options.cache_bytes = 64 << 20;
    options.memory_bytes = 16 << 20;
    Result<std::unique_ptr<store::ObjectStore>> store = store::OpenStore(store_url);
    Require(store.status());
    Result<std::unique_ptr<agent::Agent>> a =
        agent::Agent::Create(options, std::move(*store), std::move(*keys));
    Require(a.status());
    agent_ = std::move(*a);
  }
  ~Fixture() {
    agent_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Answer(const std::string& line) {
    std::string answer = agent::AnswerRequest(line, [this](const nlohmann::json& request) {
      return agent::HandleRequest(*agent_, "/lode-fuzz", request);
    });
    agent_->DetachAll();
    return answer;
  }

 private:
  void PushImage(const std::string& store_url, keys::KeyService& keys) {
    std::string tar = testing::LayerBuilder()
                          .Dir("bin")
                          .File("bin/app", std::string(100000, 'x'), {.mode = 0755})
                          .Finish();
    std::string layer = dir_ + "/layer.tar";
    Require(WriteFileAtomically(layer, tar));
    Result<image::Image> image = image::OpenLayerTarballs({layer});
    Require(image.status());
    Result<std::unique_ptr<store::ObjectStore>> store = store::OpenStore(store_url);
    Require(store.status());
    push::PushOptions options;
    options.tenant = "t";
    options.threads = 1;
    Result<push::PushResult> pushed = push::Push(*image, options, keys, **store);
    Require(pushed.status());
    Require(catalog::SetTag(**store, "t", "app", pushed->ref));
  }

  std::string dir_;
  std::unique_ptr<agent::Agent> agent_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = [] {
    auto* f = new Fixture();
    std::atexit([] { delete fixture; });
    return f;
  }();
  std::string answer = fixture->Answer(std::string(reinterpret_cast<const char*>(data), size));
  if (answer.empty() || answer.back() != '\n') std::abort();
  return 0;
}
