// Requests to keyd, answered as its socket server answers them
// (keyd/service.h Service::Answer): a key directory holding tenant "t"
// (fuzz_keys.h's key pair) and a policy of five callers. An input is a
// sequence of records, each one byte choosing the caller and one request
// line, so grants made by an earlier record decide a later open. Grants
// start empty for every input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_keys.h"
#include "keyd/service.h"
#include "keys/key_service.h"
#include "util/sha256.h"

namespace {

using namespace lode;

// Callers by uid: 0 admin, 1 worker "w", 2 gc, 3 pusher, 4 nobody.
constexpr char kPolicy[] = R"({"principals": [
  {"name": "ops", "uid": 0, "roles": ["admin"]},
  {"name": "w", "uid": 1, "roles": ["worker"]},
  {"name": "gc", "uid": 2, "roles": ["gc"]},
  {"name": "push", "uid": 3, "roles": ["pusher"]}]})";

class Fixture {
 public:
  Fixture() {
    char pattern[] = "/tmp/lode-fuzz-keyd.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir_ = pattern;
    std::filesystem::create_directories(dir_ + "/keys/tenants");
    std::filesystem::create_directories(dir_ + "/keys/salts");
    std::filesystem::permissions(dir_ + "/keys", std::filesystem::perms::owner_all);
    fuzz::Keys fixed = fuzz::FixedKeys();
    std::ofstream(dir_ + "/keys/tenants/t.pub") << ToHex(fixed.tenant.public_key) << "\n";
    std::ofstream(dir_ + "/keys/tenants/t.key") << ToHex(fixed.tenant.secret_key) << "\n";
  }
  ~Fixture() { std::filesystem::remove_all(dir_); }

  std::unique_ptr<keyd::Service> FreshService() const {
    std::filesystem::remove(dir_ + "/grants.json");
    auto keys = keys::OpenLocalKeyService(dir_ + "/keys");
    auto grants = keyd::GrantTable::Open(dir_ + "/grants.json");
    auto audit = keyd::Audit::Open("/dev/null");
    auto policy = keyd::Policy::Parse(kPolicy, "fuzz policy");
    if (!keys.ok() || !grants.ok() || !audit.ok() || !policy.ok()) std::abort();
    return std::make_unique<keyd::Service>(std::move(*keys), std::move(*policy), std::move(*grants),
                                           std::move(*audit));
  }

 private:
  std::string dir_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  std::unique_ptr<keyd::Service> service = fixture.FreshService();
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  while (at < in.size()) {
    keyd::Peer peer{static_cast<uid_t>(static_cast<uint8_t>(in[at]) % 5), 0, 1};
    size_t end = in.find('\n', at + 1);
    if (end == std::string::npos) end = in.size();
    std::string answer = service->Answer(peer, in.substr(at + 1, end - at - 1));
    if (answer.empty() || answer.find('\n') != std::string::npos) std::abort();
    at = end + 1;
  }
  return 0;
}
