// One connection to keyd, read and answered as its socket server does
// (keys/keyd_protocol.h RequestReader, keyd/service.h Service::Answer): a
// key directory holding tenant "t" (fuzz_keys.h's key pair) and a policy
// of four principals. An input is one byte choosing the caller, then the
// connection's bytes: requests, sealed payloads among them, so a grant
// made by an earlier request decides a later open. Grants start empty for
// every input. An input answers at most kMaxRequests requests: each grant
// rewrites and syncs the whole grant file, so a megabyte of grants would be
// a slow unit (quadratic file writes), not a finding.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_keys.h"
#include "keyd/service.h"
#include "keys/key_service.h"
#include "keys/keyd_protocol.h"
#include "util/sha256.h"

namespace {

using namespace lode;

// Callers by uid: 0 admin and worker "w", 1 worker "x", 2 gc, 3 pusher,
// 4 nobody.
constexpr char kPolicy[] = R"({"principals": [
  {"name": "w", "uid": 0, "roles": ["admin", "worker"]},
  {"name": "x", "uid": 1, "roles": ["worker"]},
  {"name": "gc", "uid": 2, "roles": ["gc"]},
  {"name": "push", "uid": 3, "roles": ["pusher"]}]})";

constexpr int kMaxRequests = 64;

class Fixture {
 public:
  Fixture() {
    // tmpfs where there is one: a sync there costs nothing.
    std::string pattern = std::filesystem::is_directory("/dev/shm")
                              ? "/dev/shm/lode-fuzz-keyd.XXXXXX"
                              : "/tmp/lode-fuzz-keyd.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
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
  if (size == 0) return 0;
  keyd::Peer peer{static_cast<uid_t>(data[0] % 5), 0, 1};
  size_t at = 1;
  keys::RequestReader reader([&](char* buf, size_t n) -> Result<size_t> {
    // A few bytes at a time, as a socket may deliver them.
    size_t take = std::min({n, size - at, size_t{7} + at % 13});
    std::memcpy(buf, data + at, take);
    at += take;
    return take;
  });
  for (int n = 0; n < kMaxRequests; ++n) {
    Result<std::optional<keys::Request>> request = reader.Next();
    if (!request.ok() || !*request) break;
    std::string answer = service->Answer(peer, **request);
    if (answer.empty() || answer.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
