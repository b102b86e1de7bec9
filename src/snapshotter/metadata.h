// The snapshotter's metadata: every snapshot's name, parent, kind, times,
// labels and usage, in SQLite (WAL, one transaction per change), so a
// change is whole or absent after a crash and survives restarts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "util/status.h"

struct sqlite3;

namespace lode::snapshotter {

// containerd's snapshot kinds, numbered as its API numbers them.
enum class Kind { kView = 1, kActive = 2, kCommitted = 3 };
std::string KindName(Kind kind);  // "view", "active", "committed"

using Labels = std::map<std::string, std::string>;
// containerd's limit on a label, key and value together.
constexpr size_t kMaxLabelBytes = 4096;

struct Usage {
  int64_t size = 0;  // bytes on disk
  int64_t inodes = 0;
};

struct Info {
  std::string name;
  std::string parent;
  Kind kind = Kind::kActive;
  int64_t created_ns = 0;  // since the epoch
  int64_t updated_ns = 0;
  Labels labels;
};

struct Record {
  int64_t id = 0;  // names the snapshot's directory; never reused
  Info info;
  Usage usage;                      // as recorded at commit
  std::vector<int64_t> parent_ids;  // nearest first
  std::string backing;              // JSON: what a lode snapshot stands on; "" for directories
};

// containerd's limit on one label: key and value together.
Status CheckLabels(const Labels& labels);

class Metadata {
 public:
  static Result<std::unique_ptr<Metadata>> Open(const std::string& path);
  ~Metadata();

  // Runs `within` (given the new record, whose backing it may set) inside
  // the creating transaction: its failure undoes the creation.
  // AlreadyExists for a taken key, NotFound for a missing parent,
  // InvalidArgument for an uncommitted one.
  Status Create(Kind kind, const std::string& key, const std::string& parent, const Labels& labels,
                const std::function<Status(Record&)>& within, Record* created);
  Result<Record> Get(const std::string& key);
  Result<Record> GetById(int64_t id);
  Result<bool> HasChildren(int64_t id);
  // Records what a snapshot stands on (a lode image attached as a lower).
  Status SetBacking(int64_t id, const std::string& backing);
  // Makes active `key` committed as `name`, with `labels` and `usage`.
  Status Commit(const std::string& key, const std::string& name, const Labels& labels,
                const Usage& usage);
  // Removes `key` (FailedPrecondition while it has children); returns what
  // it was.
  Result<Record> Remove(const std::string& key);
  // containerd's Update: `paths` empty or "labels" replaces the labels,
  // "labels.KEY" sets or removes one; other fields are immutable.
  Result<Info> Update(const Info& info, const std::vector<std::string>& paths);
  Result<std::vector<Info>> List();
  Result<std::set<int64_t>> Ids();

 private:
  explicit Metadata(sqlite3* db) : db_(db) {}
  Status Execute(const std::string& sql);
  Status InTransaction(const std::function<Status()>& body);
  Result<Record> Load(const std::string& key);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace lode::snapshotter
