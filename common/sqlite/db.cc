#include "common/sqlite/db.h"

#include <sqlite3.h>

namespace common::sqlite {

Status FromSqlite(sqlite3* db, int rc, std::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(context);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::Corruption(msg);
    case SQLITE_FULL: return Status::ResourceExhausted(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(msg);
    case SQLITE_CANTOPEN: return Status::NotFound(msg);
    default: return Status::IOError(msg);
  }
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (st_) sqlite3_finalize(st_);
  db_ = o.db_;
  st_ = o.st_;
  o.st_ = nullptr;
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(st_, i, v);
  return *this;
}
Stmt& Stmt::BindText(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

bool Stmt::Step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = FromSqlite(db_, rc, "sqlite step");
  return false;
}

Status Stmt::Exec() {
  while (Step()) {
  }
  Status s = status_;
  Reset();
  return s;
}

void Stmt::Reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  status_ = Status::Ok();
}

int64_t Stmt::ColumnInt(int i) const { return sqlite3_column_int64(st_, i); }
double Stmt::ColumnDouble(int i) const { return sqlite3_column_double(st_, i); }
std::string_view Stmt::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, i));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : "";
}
std::string_view Stmt::ColumnBlob(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, i));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : "";
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool readonly) {
  std::unique_ptr<Db> db(new Db());
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db->db_, flags, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(db->db_, rc, "open " + path);
  sqlite3_busy_timeout(db->db_, 10000);
  return db;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  return FromSqlite(db_, rc, "exec");
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  Stmt st;
  st.db_ = db_;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st.st_, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(db_, rc, "prepare");
  return st;
}

int64_t Db::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
int64_t Db::Changes() const { return sqlite3_changes64(db_); }

Status Db::BackupTo(const std::string& dest_path) {
  sqlite3* dest = nullptr;
  int rc = sqlite3_open(dest_path.c_str(), &dest);
  if (rc != SQLITE_OK) {
    Status s = FromSqlite(dest, rc, "open " + dest_path);
    sqlite3_close(dest);
    return s;
  }
  sqlite3_backup* b = sqlite3_backup_init(dest, "main", db_, "main");
  if (b == nullptr) {
    Status s = FromSqlite(dest, sqlite3_errcode(dest), "backup init");
    sqlite3_close(dest);
    return s;
  }
  do {
    rc = sqlite3_backup_step(b, 256);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  Status s = FromSqlite(dest, rc, "backup to " + dest_path);
  sqlite3_close(dest);
  return s;
}

Transaction::Transaction(Db& db) : db_(db) { status_ = db_.Exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_ && status_.ok()) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  if (!status_.ok()) return status_;
  done_ = true;
  Status s = db_.Exec("COMMIT");
  if (!s.ok()) (void)db_.Exec("ROLLBACK");
  return s;
}

}  // namespace common::sqlite
