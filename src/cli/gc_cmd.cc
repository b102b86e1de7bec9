// lode gc status|rotate|migrate|expire|sweep|alarms: the root lifecycle.
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "gc/gc.h"
#include "util/size.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct GcArgs {
  StoreArgs store;
  KeysArgs keys;
  bool json = false;
  bool keep_active = false;
  std::string root;
  int threads = 0;
  std::string older_than;
  std::string abandoned_after = "1h";
  std::string clear;
};

void Print(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

json RecordJson(const store::RootRecord& r) {
  return {{"root", r.id},
          {"state", store::RootStateName(r.state)},
          {"created", r.created},
          {"changed", r.changed},
          {"salt_epoch", r.salt_epoch}};
}

void ShowStatus(const GcArgs& a) {
  auto store = a.store.Open();
  std::vector<gc::RootUsage> roots = Check(gc::Survey(*store));
  if (a.json) {
    json out = json::array();
    for (const gc::RootUsage& u : roots) {
      json j = RecordJson(u.record);
      j.update({{"chunks", u.chunks},
                {"chunk_bytes", u.chunk_bytes},
                {"manifests", u.manifests},
                {"manifest_bytes", u.manifest_bytes},
                {"tags", u.tags},
                {"alarms", u.alarms}});
      out.push_back(j);
    }
    return Print(out);
  }
  std::printf("%-10s %-8s %6s %9s %10s %9s %6s %6s\n", "ROOT", "STATE", "EPOCH", "CHUNKS", "BYTES",
              "MANIFESTS", "TAGS", "ALARMS");
  for (const gc::RootUsage& u : roots) {
    std::printf("%-10s %-8s %6u %9llu %10s %9llu %6llu %6llu\n", u.record.id.c_str(),
                store::RootStateName(u.record.state), u.record.salt_epoch,
                static_cast<unsigned long long>(u.chunks),
                FormatSize(u.chunk_bytes + u.manifest_bytes).c_str(),
                static_cast<unsigned long long>(u.manifests),
                static_cast<unsigned long long>(u.tags), static_cast<unsigned long long>(u.alarms));
  }
}

void Rotate(const GcArgs& a) {
  auto store = a.store.Open();
  store::RootRecord r = Check(gc::Rotate(*store, store::UnixNow(), a.keep_active));
  if (a.json) return Print(RecordJson(r));
  std::printf("%s is active (salt epoch %u)%s\n", r.id.c_str(), r.salt_epoch,
              a.keep_active ? "" : "; earlier active roots are retired");
}

void Migrate(const GcArgs& a) {
  auto store = a.store.Open();
  auto keys = a.keys.Open();
  ProgressLine progress;
  std::mutex mu;  // steps come from the re-sealing threads
  uint64_t chunks = 0;
  gc::MigrateOptions o{a.root, a.threads, [&](const std::string& step) {
                         std::lock_guard lock(mu);
                         if (step == "chunk" && ++chunks % 64 == 0) {
                           progress.Update("migrate: " + std::to_string(chunks) + " chunks");
                         }
                         return lode::Status::Ok();
                       }};
  gc::MigrateResult r = Check(gc::Migrate(*store, *keys, o));
  progress.Update("");
  if (a.json) {
    Print({{"tags_moved", r.tags_moved},
           {"tags_skipped", r.tags_skipped},
           {"failed", r.failed},
           {"manifests_copied", r.manifests_copied},
           {"manifests_reused", r.manifests_reused},
           {"chunks_copied", r.chunks_copied},
           {"chunks_existing", r.chunks_existing},
           {"bytes_copied", r.bytes_copied}});
  } else {
    std::printf(
        "moved %llu tags: %llu manifests copied (%llu from an earlier run), %llu chunks copied "
        "(%s), %llu already there\n",
        static_cast<unsigned long long>(r.tags_moved),
        static_cast<unsigned long long>(r.manifests_copied),
        static_cast<unsigned long long>(r.manifests_reused),
        static_cast<unsigned long long>(r.chunks_copied), FormatSize(r.bytes_copied).c_str(),
        static_cast<unsigned long long>(r.chunks_existing));
    for (const std::string& t : r.tags_skipped) {
      std::printf("skipped %s: moved meanwhile\n", t.c_str());
    }
  }
  // Damaged images stay (with their root); the rest moved: a partial success.
  for (const std::string& f : r.failed) std::fprintf(stderr, "lode: not migrated: %s\n", f.c_str());
  if (!r.failed.empty()) throw ExitStatus{1};
}

void Expire(const GcArgs& a) {
  auto store = a.store.Open();
  gc::ExpireResult r = Check(gc::Expire(*store, store::UnixNow()));
  if (a.json) {
    return Print(
        {{"expired", r.expired}, {"still_tagged", r.still_tagged}, {"too_recent", r.too_recent}});
  }
  if (r.expired.empty() && r.still_tagged.empty() && r.too_recent.empty()) {
    std::printf("no retired roots\n");
  }
  for (const std::string& id : r.expired) std::printf("%s expired\n", id.c_str());
  for (const std::string& id : r.still_tagged) {
    std::printf("%s still tagged: run lode gc migrate first\n", id.c_str());
  }
  for (const std::string& id : r.too_recent) {
    std::printf("%s retired less than %llds ago: expire it later\n", id.c_str(),
                static_cast<long long>(gc::kMinRetiredSeconds));
  }
}

void Sweep(const GcArgs& a) {
  gc::SweepOptions o;
  o.older_than = ParseDuration(a.older_than);
  o.abandoned_put_age = ParseDuration(a.abandoned_after);
  o.now = store::UnixNow();
  ProgressLine progress;
  o.progress = [&progress](const std::string& root, uint64_t deleted) {
    if (deleted % 256 == 0) progress.Update("sweep: " + root + ": " + std::to_string(deleted));
  };
  auto store = a.store.Open();
  gc::SweepResult r = Check(gc::Sweep(*store, o));
  progress.Update("");
  if (a.json) {
    return Print({{"deleted", r.deleted},
                  {"kept", r.kept},
                  {"objects_deleted", r.objects_deleted},
                  {"bytes_deleted", r.bytes_deleted},
                  {"abandoned_puts_removed", r.abandoned_puts_removed}});
  }
  for (const std::string& id : r.deleted) std::printf("%s deleted\n", id.c_str());
  for (const std::string& k : r.kept) std::printf("kept %s\n", k.c_str());
  std::printf("%llu objects (%s) deleted, %llu abandoned uploads removed\n",
              static_cast<unsigned long long>(r.objects_deleted),
              FormatSize(r.bytes_deleted).c_str(),
              static_cast<unsigned long long>(r.abandoned_puts_removed));
}

void ShowAlarms(const GcArgs& a) {
  auto store = a.store.Open();
  if (!a.clear.empty()) {
    uint64_t n = Check(store::ClearAlarms(*store, a.clear));
    if (a.json) return Print({{"cleared", n}});
    std::printf("cleared %llu alarms of %s\n", static_cast<unsigned long long>(n), a.clear.c_str());
    return;
  }
  std::vector<store::Alarm> alarms = Check(store::ListAlarms(*store, a.root));
  if (a.json) {
    json out = json::array();
    for (const store::Alarm& al : alarms) {
      out.push_back(
          {{"root", al.root}, {"object", al.object}, {"time", al.time}, {"reader", al.reader}});
    }
    return Print(out);
  }
  for (const store::Alarm& al : alarms) {
    std::printf("%s\t%lld\t%s\t%s\n", al.root.c_str(), static_cast<long long>(al.time),
                al.reader.c_str(), al.object.c_str());
  }
  if (alarms.empty()) std::printf("no alarms\n");
}

}  // namespace

void RegisterGc(CLI::App& app) {
  CLI::App* gc = app.add_subcommand("gc", "Root lifecycle: rotate, migrate, expire, sweep");
  gc->require_subcommand(1);
  auto add = [gc](const char* name, const char* help, void (*run)(const GcArgs&)) {
    auto a = std::make_shared<GcArgs>();
    CLI::App* cmd = gc->add_subcommand(name, help);
    a->store.Add(cmd);
    cmd->add_flag("--json", a->json, "print JSON");
    cmd->callback([a, run] { run(*a); });
    return std::make_pair(cmd, a);
  };
  add("status", "Roots, their states, objects, bytes, tags and alarms", ShowStatus);
  auto [rotate, ra] = add("rotate", "Start a new active root; the active ones retire", Rotate);
  rotate->add_flag("--keep-active", ra->keep_active, "add an active root, retire none");
  auto [migrate, ma] = add("migrate", "Copy tagged images out of retired roots", Migrate);
  ma->keys.Add(migrate);
  migrate->add_option("--root", ma->root, "active root to copy into (default: the newest)");
  migrate->add_option("--threads", ma->threads, "re-sealing threads (default: one per core)");
  add("expire", "Expire retired roots no tag points into", Expire);
  auto [sweep, sa] = add("sweep", "Delete expired roots without alarms", Sweep);
  sweep->add_option("--older-than", sa->older_than, "expired at least this long (e.g. 7d)")
      ->required();
  sweep
      ->add_option("--abandoned-after", sa->abandoned_after,
                   "remove what crashed uploads left (dir://) once this old")
      ->capture_default_str();
  auto [alarms, aa] = add("alarms", "Reads of expired roots", ShowAlarms);
  alarms->add_option("--root", aa->root, "only this root's alarms");
  alarms->add_option("--clear", aa->clear, "clear this root's alarms (after checking them)");
}

}  // namespace lode::cli
