#pragma once
// RAII wrappers over SQLite (Debian's libsqlite3): Db owns a connection, Stmt a prepared
// statement, Transaction a BEGIN..COMMIT that rolls back unless committed. Errors are Status
// values carrying SQLite's message; SQLITE_CORRUPT/NOTADB map to Corruption, SQLITE_FULL to
// ResourceExhausted (disk full), SQLITE_BUSY to Unavailable.
// Thread affinity: a Db and its statements are used by one thread at a time (the connection is
// opened in SQLite's multi-thread mode); open one Db per thread that needs one.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace common::sqlite {

class Db;

class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;

  // Binds are 1-based as in SQLite. Text and blobs are copied (SQLITE_TRANSIENT).
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, double v);
  Stmt& BindText(int i, std::string_view v);
  Stmt& BindBlob(int i, std::string_view v);
  // Steps once: true when a row is available, false when done; errors in status().
  bool Step();
  // Runs to completion (for statements without rows).
  Status Exec();
  void Reset();
  int64_t ColumnInt(int i) const;
  double ColumnDouble(int i) const;
  std::string_view ColumnText(int i) const;
  std::string_view ColumnBlob(int i) const;
  const Status& status() const { return status_; }

 private:
  friend class Db;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  Status status_;
};

class Db {
 public:
  // Opens (creating) the database file. `readonly` opens without write access.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool readonly = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(std::string_view sql);
  Result<Stmt> Prepare(std::string_view sql);
  int64_t LastInsertRowid() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // Copies this database into `dest_path` with SQLite's online backup API (consistent even while
  // other connections write).
  Status BackupTo(const std::string& dest_path);
  sqlite3* raw() { return db_; }

 private:
  Db() = default;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK in the destructor unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  const Status& status() const { return status_; }
  Status Commit();

 private:
  Db& db_;
  Status status_;
  bool done_ = false;
};

// Status from a SQLite result code and the connection's message.
Status FromSqlite(sqlite3* db, int rc, std::string_view context);

}  // namespace common::sqlite
