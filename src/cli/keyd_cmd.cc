// lode keyd: the key daemon; lode grant|revoke|grants: which worker may
// open which image (docs/design.md, "Trust model").
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "agent/api.h"
#include "catalog/catalog.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "functions/http_server.h"
#include "keyd/server.h"
#include "keyd/service.h"
#include "keys/keyd_client.h"
#include "util/tls.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct KeydArgs {
  std::string dir, socket, policy, audit, metrics_listen;
  std::string tls_listen, tls_cert, tls_key, tls_client_ca;
};

void RunKeyd(const KeydArgs& a) {
  std::string dir = a.dir.empty() ? keys::DefaultKeyDir() : a.dir;
  std::unique_ptr<keys::KeyService> local = Check(keys::OpenLocalKeyService(dir));
  keyd::Policy policy = Check(keyd::Policy::Load(a.policy));
  auto grants = Check(keyd::GrantTable::Open(dir + "/grants.json"));
  auto audit = Check(keyd::Audit::Open(a.audit.empty() ? dir + "/audit.jsonl" : a.audit));
  keyd::Service service(std::move(local), std::move(policy), std::move(grants), std::move(audit));
  auto server = Check(keyd::SocketServer::Start(a.socket, service));
  std::unique_ptr<keyd::SocketServer> tls_server;
  if (!a.tls_listen.empty()) {
    if (a.tls_cert.empty() || a.tls_key.empty() || a.tls_client_ca.empty()) {
      Check(
          Status::InvalidArgument("--tls-listen needs --tls-cert, --tls-key and --tls-client-ca"));
    }
    auto tls = Check(TlsContext::Server(a.tls_cert, a.tls_key, a.tls_client_ca));
    tls_server = Check(keyd::SocketServer::StartTls(a.tls_listen, tls, service));
    std::fprintf(stderr, "lode keyd: TLS on port %d\n", tls_server->port());
  }
  std::unique_ptr<functions::HttpServer> metrics;
  if (!a.metrics_listen.empty()) {
    metrics = Check(functions::HttpServer::Listen(
        a.metrics_listen, {}, [&service](const functions::HttpRequest& r) {
          if (r.path != "/metrics") {
            return functions::HttpResponse{404, {{"Content-Type", "text/plain"}}, "not found\n"};
          }
          return functions::HttpResponse{
              200, {{"Content-Type", "text/plain; version=0.0.4"}}, service.Metrics()};
        }));
    std::fprintf(stderr, "lode keyd: metrics on port %d\n", metrics->port());
  }
  std::fprintf(stderr, "lode keyd: serving on %s\n", a.socket.c_str());
  AwaitStopSignal();
  metrics.reset();
  tls_server.reset();
  server.reset();
  std::fprintf(stderr, "lode keyd: stopped\n");
}

void RegisterKeyd(CLI::App& app) {
  auto a = std::make_shared<KeydArgs>();
  CLI::App* cmd = app.add_subcommand(
      "keyd",
      "The key daemon: holds tenant keys and salts, opens for workers only what they "
      "were granted, audits every decision");
  cmd->add_option("--dir", a->dir,
                  "key directory (tenant keys, salts, grants.json); default $LODE_KEYS or the "
                  "per-user data directory");
  cmd->add_option("--socket", a->socket, "Unix socket to serve on (open to every local user)")
      ->required();
  cmd->add_option("--policy", a->policy,
                  "JSON file of principals (uid, gid) and their roles (admin, pusher, worker, gc)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--audit", a->audit, "audit log (JSON lines); default DIR/audit.jsonl");
  cmd->add_option("--tls-listen", a->tls_listen,
                  "also serve TLS on HOST:PORT (port 0: any free one; printed), for workers on "
                  "other machines; callers are known by their client certificate's subject");
  cmd->add_option("--tls-cert", a->tls_cert, "keyd's certificate (PEM) for --tls-listen");
  cmd->add_option("--tls-key", a->tls_key, "its private key (PEM)");
  cmd->add_option("--tls-client-ca", a->tls_client_ca,
                  "CA certificates (PEM) that sign the callers' client certificates");
  cmd->add_option("--metrics-listen", a->metrics_listen,
                  "serve Prometheus metrics on HOST:PORT (GET /metrics)");
  cmd->callback([a] { RunKeyd(*a); });
}

// keyd at --keyd, else $LODE_KEYD: grants live there and nowhere else.
std::shared_ptr<keys::KeydClient> ReachKeyd(const std::string& flag) {
  std::string address = keys::KeydAddress(flag);
  if (address.empty()) {
    Check(
        Status::InvalidArgument("grants live in the key daemon: give --keyd ADDRESS or set "
                                "LODE_KEYD"));
  }
  return Check(keys::KeydClient::Create(address));
}

// What a grant is for: REF, TAG or function:NAME, resolved in the store now.
struct GrantTarget {
  std::string image;  // ROOT/MANIFEST-ID ("" when it no longer resolves)
  std::string function;
};

struct GrantArgs {
  StoreArgs store;
  std::string keyd, target, tenant, worker, ttl;
  bool json_output = false;

  void Add(CLI::App* cmd, bool with_ttl) {
    cmd->add_option("target", target, "ROOT/MANIFEST-ID, a tag, or function:NAME")->required();
    cmd->add_option("--tenant", tenant, "the image's tenant")->required();
    cmd->add_option("--worker", worker, "the worker (a principal with the worker role)")
        ->required();
    if (with_ttl)
      cmd->add_option("--ttl", ttl,
                      "how long it lasts (90s, 30m, 12h, 7d); default: until revoked");
    cmd->add_option("--keyd", keyd, "the key daemon (socket or tls://...); default $LODE_KEYD");
    cmd->add_flag("--json", json_output, "print the answer as JSON");
    store.Add(cmd);
  }
  std::shared_ptr<keys::KeydClient> Keyd() const { return ReachKeyd(keyd); }
  GrantTarget Resolve(bool must_resolve) const {
    GrantTarget t;
    std::string text = target;
    const std::string prefix = "function:";
    if (text.rfind(prefix, 0) == 0) {
      t.function = text.substr(prefix.size());
      text = "function." + t.function;
    }
    Result<store::ImageRef> ref = catalog::ResolveRef(*store.Open(), tenant, text);
    if (ref.ok()) {
      t.image = ref->ToString();
    } else if (must_resolve) {
      Check(ref.status());
    }
    return t;
  }
};

std::string When(int64_t unix_seconds) {
  if (unix_seconds == 0) return "until revoked";
  std::time_t t = unix_seconds;
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return std::string("until ") + text;
}

void RegisterGrant(CLI::App& app) {
  auto a = std::make_shared<GrantArgs>();
  CLI::App* cmd = app.add_subcommand(
      "grant", "Let a worker open an image (its manifest and profile) or a function");
  a->Add(cmd, true);
  cmd->callback([a] {
    GrantTarget t = a->Resolve(true);
    json request = {{"op", "grant"},    {"tenant", a->tenant},    {"worker", a->worker},
                    {"image", t.image}, {"function", t.function}, {"label", a->target}};
    if (!a->ttl.empty()) request["ttl_seconds"] = ParseDuration(a->ttl);
    json grant = Check(a->Keyd()->Call(request))["grant"];
    if (a->json_output) {
      std::printf("%s\n", grant.dump(2).c_str());
      return;
    }
    std::printf("granted worker %s %s's %s (%s), %s\n", a->worker.c_str(), a->tenant.c_str(),
                t.image.c_str(), a->target.c_str(),
                When(grant.value("expires", int64_t{0})).c_str());
  });
}

// Detaches the agent's attachments of `image` for `tenant`; one line per
// attachment still in use (a sandbox has it mounted: stop that first).
void DetachEverywhere(const std::string& socket, const std::string& tenant,
                      const std::string& image) {
  json list = AskAgent(socket, {{"op", "list"}})["attachments"];
  for (const json& attachment : list) {
    if (attachment.value("tenant", "") != tenant || attachment.value("ref", "") != image) continue;
    std::string id = attachment.value("id", "");
    Result<nlohmann::json> detached = agent::CallAgent(
        socket.empty() ? DefaultAgentSocket() : socket, {{"op", "detach"}, {"id", id}});
    if (detached.ok()) {
      std::printf("detached %s\n", id.c_str());
    } else {
      std::fprintf(stderr, "lode: %s stays attached: %s\n", id.c_str(),
                   detached.status().message().c_str());
    }
  }
}

void RegisterRevoke(CLI::App& app) {
  auto a = std::make_shared<GrantArgs>();
  auto detach = std::make_shared<bool>(false);
  auto socket = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "revoke",
      "Take a grant back: no new attach or open of it; images attached already keep reading "
      "until detached (--detach)");
  a->Add(cmd, false);
  cmd->add_flag("--detach", *detach,
                "also detach the image from the worker's agent (--socket): those in use by a "
                "sandbox stay, one line each");
  AddSocketOption(cmd, *socket);
  cmd->callback([a, detach, socket] {
    GrantTarget t = a->Resolve(false);
    json answer = Check(a->Keyd()->Call({{"op", "revoke"},
                                         {"tenant", a->tenant},
                                         {"worker", a->worker},
                                         {"image", t.image},
                                         {"label", a->target}}));
    int revoked = answer.value("revoked", 0);
    if (a->json_output) {
      std::printf("%s\n", json{{"revoked", revoked}}.dump().c_str());
    } else if (revoked == 0) {
      Check(Status::NotFound("worker " + a->worker + " holds no grant for " + a->tenant + "'s " +
                             a->target));
    } else {
      std::printf("revoked %d grant(s) of worker %s\n", revoked, a->worker.c_str());
    }
    if (*detach && !t.image.empty()) DetachEverywhere(*socket, a->tenant, t.image);
  });
}

void RegisterGrants(CLI::App& app) {
  struct Args {
    std::string keyd;
    bool json_output = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("grants", "List the grants keyd holds");
  cmd->add_option("--keyd", a->keyd, "the key daemon (socket or tls://...); default $LODE_KEYD");
  cmd->add_flag("--json", a->json_output, "print them as JSON");
  cmd->callback([a] {
    json grants = Check(ReachKeyd(a->keyd)->Call({{"op", "grants"}}))["grants"];
    if (a->json_output) {
      std::printf("%s\n", grants.dump(2).c_str());
      return;
    }
    std::printf("%-12s %-12s %-24s %-30s %s\n", "TENANT", "WORKER", "IMAGE", "FOR", "EXPIRES");
    for (const json& g : grants) {
      std::string image = g.value("image", "");
      std::printf("%-12s %-12s %-24s %-30s %s\n", g.value("tenant", "").c_str(),
                  g.value("worker", "").c_str(), image.substr(0, 24).c_str(),
                  g.value("label", "").c_str(), When(g.value("expires", int64_t{0})).c_str());
    }
  });
}

}  // namespace

void RegisterKeyService(CLI::App& app) {
  RegisterKeyd(app);
  RegisterGrant(app);
  RegisterRevoke(app);
  RegisterGrants(app);
}

}  // namespace lode::cli
