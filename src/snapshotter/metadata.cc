#include "snapshotter/metadata.h"

#include <sqlite3.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace lode::snapshotter {
namespace {

using json = nlohmann::json;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One prepared statement; Step() advances, the Column* accessors read a row.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, const std::string& text) {
    if (stmt_)
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int index, int64_t value) {
    if (stmt_) sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& BindNull(int index) {
    if (stmt_) sqlite3_bind_null(stmt_, index);
    return *this;
  }
  // true with a row, false when done; an error as a Status.
  Result<bool> Step() {
    if (!stmt_) return Error();
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error();
  }
  Status Run() {
    Result<bool> row = Step();
    return row.ok() ? Status::Ok() : row.status();
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? std::string(reinterpret_cast<const char*>(text),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string();
  }

 private:
  Status Error() const { return Status::IOError(std::string("metadata: ") + sqlite3_errmsg(db_)); }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

std::string LabelsText(const Labels& labels) { return json(labels).dump(); }

Labels ParseLabels(const std::string& text) {
  json parsed = json::parse(text, nullptr, false);
  Labels labels;
  if (!parsed.is_object()) return labels;
  for (const auto& [key, value] : parsed.items()) {
    if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES snapshots(id),
  kind INTEGER NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  labels TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  inodes INTEGER NOT NULL DEFAULT 0,
  backing TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS snapshots_by_parent ON snapshots(parent_id);
)sql";

constexpr const char* kSelectInfo =
    "SELECT s.id, s.name, p.name, s.kind, s.created, s.updated, s.labels, s.size, s.inodes, "
    "s.parent_id, s.backing FROM snapshots s LEFT JOIN snapshots p ON s.parent_id = p.id";

Record ReadRecord(const Statement& row) {
  Record record;
  record.id = row.Int(0);
  record.info.name = row.Text(1);
  record.info.parent = row.Text(2);
  record.info.kind = static_cast<Kind>(row.Int(3));
  record.info.created_ns = row.Int(4);
  record.info.updated_ns = row.Int(5);
  record.info.labels = ParseLabels(row.Text(6));
  record.usage = {row.Int(7), row.Int(8)};
  record.backing = row.Text(10);
  return record;
}

}  // namespace

std::string KindName(Kind kind) {
  switch (kind) {
    case Kind::kView:
      return "view";
    case Kind::kActive:
      return "active";
    case Kind::kCommitted:
      return "committed";
  }
  return "unknown";
}

Status CheckLabels(const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (key.size() + value.size() > kMaxLabelBytes) {
      return Status::InvalidArgument("label " + key.substr(0, 64) + " is longer than " +
                                     std::to_string(kMaxLabelBytes) + " bytes with its value");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Metadata>> Metadata::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("open " + path + ": " + error);
  }
  std::unique_ptr<Metadata> metadata(new Metadata(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", kSchema}) {
    Status s = metadata->Execute(sql);
    if (!s.ok()) return s.WithContext(path);
  }
  return metadata;
}

Metadata::~Metadata() { sqlite3_close(db_); }

Status Metadata::Execute(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return Status::Ok();
  std::string message = error ? error : sqlite3_errmsg(db_);
  sqlite3_free(error);
  return Status::IOError("metadata: " + message);
}

Status Metadata::InTransaction(const std::function<Status()>& body) {
  LODE_RETURN_IF_ERROR(Execute("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = Execute("COMMIT");
  if (!status.ok()) (void)Execute("ROLLBACK");
  return status;
}

Result<Record> Metadata::Load(const std::string& key) {
  Statement select(db_, (std::string(kSelectInfo) + " WHERE s.name = ?").c_str());
  select.Bind(1, key);
  LODE_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("snapshot " + key + " does not exist");
  Record record = ReadRecord(select);
  bool has_parent = !select.IsNull(9);
  int64_t parent_id = select.Int(9);
  while (has_parent) {
    record.parent_ids.push_back(parent_id);
    Statement up(db_, "SELECT parent_id FROM snapshots WHERE id = ?");
    up.Bind(1, parent_id);
    LODE_ASSIGN_OR_RETURN(bool row, up.Step());
    if (!row) return Status::Corruption("metadata: snapshot " + key + " has a missing ancestor");
    has_parent = !up.IsNull(0);
    parent_id = up.Int(0);
  }
  return record;
}

Status Metadata::Create(Kind kind, const std::string& key, const std::string& parent,
                        const Labels& labels, const std::function<Status(Record&)>& within,
                        Record* created) {
  if (key.empty()) return Status::InvalidArgument("a snapshot needs a key");
  LODE_RETURN_IF_ERROR(CheckLabels(labels));
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Status {
    Result<Record> existing = Load(key);
    if (existing.ok()) return Status::AlreadyExists("snapshot " + key + " already exists");
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    Record record;
    if (!parent.empty()) {
      Result<Record> parent_record = Load(parent);
      if (!parent_record.ok()) {
        return parent_record.status().code() == StatusCode::kNotFound
                   ? Status::NotFound("parent snapshot " + parent + " does not exist")
                   : parent_record.status();
      }
      if (parent_record->info.kind != Kind::kCommitted) {
        return Status::InvalidArgument("parent " + parent + " is not a committed snapshot");
      }
      record.parent_ids.push_back(parent_record->id);
      record.parent_ids.insert(record.parent_ids.end(), parent_record->parent_ids.begin(),
                               parent_record->parent_ids.end());
    }
    int64_t now = NowNs();
    Statement insert(db_,
                     "INSERT INTO snapshots (name, parent_id, kind, created, updated, labels) "
                     "VALUES (?, ?, ?, ?, ?, ?)");
    insert.Bind(1, key);
    if (record.parent_ids.empty()) {
      insert.BindNull(2);
    } else {
      insert.Bind(2, record.parent_ids.front());
    }
    insert.Bind(3, static_cast<int64_t>(kind))
        .Bind(4, now)
        .Bind(5, now)
        .Bind(6, LabelsText(labels));
    LODE_RETURN_IF_ERROR(insert.Run());
    record.id = sqlite3_last_insert_rowid(db_);
    record.info = {key, parent, kind, now, now, labels};
    LODE_RETURN_IF_ERROR(within(record));
    if (!record.backing.empty()) {
      Statement back(db_, "UPDATE snapshots SET backing = ? WHERE id = ?");
      back.Bind(1, record.backing).Bind(2, record.id);
      LODE_RETURN_IF_ERROR(back.Run());
    }
    *created = std::move(record);
    return Status::Ok();
  });
}

Result<Record> Metadata::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  return Load(key);
}

Result<Record> Metadata::GetById(int64_t id) {
  std::lock_guard lock(mu_);
  Statement select(db_, "SELECT name FROM snapshots WHERE id = ?");
  select.Bind(1, id);
  LODE_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no snapshot has id " + std::to_string(id));
  return Load(select.Text(0));
}

Result<bool> Metadata::HasChildren(int64_t id) {
  std::lock_guard lock(mu_);
  Statement child(db_, "SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1");
  child.Bind(1, id);
  return child.Step();
}

Status Metadata::SetBacking(int64_t id, const std::string& backing) {
  std::lock_guard lock(mu_);
  Statement update(db_, "UPDATE snapshots SET backing = ? WHERE id = ?");
  update.Bind(1, backing).Bind(2, id);
  return update.Run();
}

Status Metadata::Commit(const std::string& key, const std::string& name, const Labels& labels,
                        const Usage& usage) {
  if (name.empty()) return Status::InvalidArgument("a committed snapshot needs a name");
  LODE_RETURN_IF_ERROR(CheckLabels(labels));
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Status {
    LODE_ASSIGN_OR_RETURN(Record record, Load(key));
    if (record.info.kind != Kind::kActive) {
      return Status::FailedPrecondition("snapshot " + key + " is not active");
    }
    Result<Record> taken = Load(name);
    if (taken.ok()) return Status::AlreadyExists("snapshot " + name + " already exists");
    if (taken.status().code() != StatusCode::kNotFound) return taken.status();
    int64_t now = NowNs();
    Statement update(db_,
                     "UPDATE snapshots SET name = ?, kind = ?, labels = ?, size = ?, inodes = ?, "
                     "created = ?, updated = ? WHERE id = ?");
    update.Bind(1, name)
        .Bind(2, static_cast<int64_t>(Kind::kCommitted))
        .Bind(3, LabelsText(labels));
    update.Bind(4, usage.size).Bind(5, usage.inodes).Bind(6, now).Bind(7, now).Bind(8, record.id);
    return update.Run();
  });
}

Result<Record> Metadata::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  Record record;
  Status status = InTransaction([&]() -> Status {
    LODE_ASSIGN_OR_RETURN(record, Load(key));
    Statement child(db_, "SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1");
    child.Bind(1, record.id);
    LODE_ASSIGN_OR_RETURN(bool has_child, child.Step());
    if (has_child) return Status::FailedPrecondition("snapshot " + key + " has children");
    Statement remove(db_, "DELETE FROM snapshots WHERE id = ?");
    remove.Bind(1, record.id);
    return remove.Run();
  });
  if (!status.ok()) return status;
  return record;
}

Result<Info> Metadata::Update(const Info& info, const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  Info updated;
  Status status = InTransaction([&]() -> Status {
    LODE_ASSIGN_OR_RETURN(Record record, Load(info.name));
    updated = record.info;
    if (paths.empty()) updated.labels = info.labels;
    for (const std::string& path : paths) {
      if (path == "labels") {
        updated.labels = info.labels;
      } else if (path.starts_with("labels.")) {
        std::string label = path.substr(7);
        auto it = info.labels.find(label);
        if (it == info.labels.end()) {
          updated.labels.erase(label);
        } else {
          updated.labels[label] = it->second;
        }
      } else {
        return Status::InvalidArgument("cannot update field " + path + " of snapshot " + info.name);
      }
    }
    LODE_RETURN_IF_ERROR(CheckLabels(updated.labels));
    updated.updated_ns = NowNs();
    Statement update(db_, "UPDATE snapshots SET labels = ?, updated = ? WHERE id = ?");
    update.Bind(1, LabelsText(updated.labels)).Bind(2, updated.updated_ns).Bind(3, record.id);
    return update.Run();
  });
  if (!status.ok()) return status;
  return updated;
}

Result<std::vector<Info>> Metadata::List() {
  std::lock_guard lock(mu_);
  Statement select(db_, (std::string(kSelectInfo) + " ORDER BY s.id").c_str());
  std::vector<Info> infos;
  while (true) {
    LODE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return infos;
    infos.push_back(ReadRecord(select).info);
  }
}

Result<std::set<int64_t>> Metadata::Ids() {
  std::lock_guard lock(mu_);
  Statement select(db_, "SELECT id FROM snapshots");
  std::set<int64_t> ids;
  while (true) {
    LODE_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return ids;
    ids.insert(select.Int(0));
  }
}

}  // namespace lode::snapshotter
