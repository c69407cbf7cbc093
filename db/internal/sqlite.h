// File: db/internal/sqlite.h
// -----------------------------------------------------------------------------
// The owners of SQLite's two handles, and the one place where an SQLite return code becomes an
// absl::Status (docs/architecture.md, "Conventions"):
//
//   Database    an open connection (sqlite3*), with a cache of prepared statements;
//   Statement   a prepared statement (sqlite3_stmt*);
//   Transaction a BEGIN IMMEDIATE ... COMMIT that rolls back unless committed.
//
// Every error message reads `db/store.cc:88: SQLite 'no such table: x' (SQLITE_ERROR): in "SQL"`:
// our file and line, SQLite's own text, the SQL that failed. Nothing here is thread-safe: the
// Store serializes its use of one Database with its mutex.
#ifndef ISTAR_DB_INTERNAL_SQLITE_H_
#define ISTAR_DB_INTERNAL_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::db::internal {

// The file and line of a call: a defaulted `CallSite where = CallSite::Here()` parameter records
// its caller's, so an SQLite error names the line of the store that ran the statement rather
// than a line in this file. (std::source_location does the same, but clang 14, which runs the
// -Wthread-safety check, cannot compile libstdc++'s.)
struct CallSite {
  static constexpr CallSite Here(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return {file, line};
  }
  const char* file;
  int line;
};

// The Status for return code `rc` of a call on `db` (which may be null when sqlite3_open_v2 could
// not even allocate one) that ran `sql`. The code is chosen by what the caller should do:
//   SQLITE_BUSY, SQLITE_LOCKED         Unavailable: another process holds the lock; retry later.
//   SQLITE_CANTOPEN                    NotFound: the path cannot be opened.
//   SQLITE_NOTADB                      InvalidArgument: the file is not an SQLite database.
//   SQLITE_READONLY                    FailedPrecondition: open the store read-write.
//   SQLITE_CONSTRAINT_FOREIGNKEY       NotFound: a referenced row (a trial) does not exist;
//                                      the only NotFound a statement (not an open) returns.
//   other SQLITE_CONSTRAINT            InvalidArgument: the values break a rule of the schema.
//   SQLITE_CORRUPT                     DataLoss.
//   SQLITE_FULL                        ResourceExhausted.
//   anything else                      Internal.
[[nodiscard]] absl::Status SqliteError(sqlite3* db, int rc, std::string_view sql, CallSite where);

// `status` with its code replaced by `code`, its message kept: for the few places where the
// caller knows better than the return code (a syntax error in a user's query is InvalidArgument).
[[nodiscard]] absl::Status WithCode(const absl::Status& status, absl::StatusCode code);

}  // namespace istar::db::internal

// Evaluates `expr`, an SQLite call returning a result code on `connection` (sqlite3*) that runs
// `sql`; returns SqliteError(...) from the enclosing function unless the code is SQLITE_OK.
#define ISTAR_SQLITE_RETURN_IF_ERROR(connection, expr, sql)                               \
  do {                                                                                    \
    const int istar_sqlite_rc = (expr);                                                   \
    if (istar_sqlite_rc != SQLITE_OK) {                                                   \
      return ::istar::db::internal::SqliteError((connection), istar_sqlite_rc, (sql),     \
                                                ::istar::db::internal::CallSite::Here()); \
    }                                                                                     \
  } while (false)

namespace istar::db::internal {

// A prepared statement. Owns the sqlite3_stmt; move-only.
//
// Bind* never fail on their own: the first binding error is kept and returned by the next Step(),
// so that call sites bind a row in straight lines. Bindings are copied (SQLITE_TRANSIENT).
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQLite.
  void BindInt(int index, int64_t value);
  void BindDouble(int index, double value);
  void BindText(int index, std::string_view value);
  void BindNull(int index);
  void BindOptionalText(int index, const std::optional<std::string>& value);
  void BindOptionalInt(int index, std::optional<int64_t> value);
  void BindOptionalDouble(int index, std::optional<double> value);

  // Runs the statement one step: true if a row is ready, false when it is done. An error carries
  // the caller's file:line.
  [[nodiscard]] absl::StatusOr<bool> Step(CallSite where = CallSite::Here());
  // Steps until done, discarding any rows, then resets the statement (keeping its bindings).
  [[nodiscard]] absl::Status Run(CallSite where = CallSite::Here());
  // Makes the statement ready to run again and clears its bindings; ends any read it holds open.
  void Reset() noexcept;

  int ColumnCount() const;
  std::string ColumnName(int column) const;
  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
  int ColumnType(int column) const;
  bool IsNull(int column) const { return ColumnType(column) == SQLITE_NULL; }
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  // The column as text, as SQLite converts it ("" for NULL).
  std::string ColumnText(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;
  std::optional<int64_t> ColumnOptionalInt(int column) const;
  std::optional<double> ColumnOptionalDouble(int column) const;

  // sqlite3_stmt_readonly: true if the statement makes no direct change to the database file.
  bool IsReadOnly() const;
  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  void KeepBindError(int rc, int index);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  absl::Status bind_status_;
};

// A cached statement lent out by Database::Cached(); resets it (ending any read it holds) when it
// goes out of scope, so a statement abandoned on an error path never pins an old snapshot.
class CachedStatement {
 public:
  explicit CachedStatement(Statement* statement) : statement_(statement) {}
  CachedStatement(CachedStatement&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)) {}
  CachedStatement& operator=(CachedStatement&&) = delete;
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  ~CachedStatement() {
    if (statement_ != nullptr) statement_->Reset();
  }

  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
};

// How a Database is opened.
struct OpenFlags {
  bool read_only = false;  // SQLITE_OPEN_READONLY; otherwise READWRITE | CREATE
  int busy_timeout_ms = 5000;
};

// An open connection. Owns the sqlite3 handle and the statements it cached; move-only.
class Database {
 public:
  // Opens `path`. NotFound if it cannot be opened (for read_only: if it does not exist; a
  // read-only open never creates a file), Internal if SQLite fails otherwise.
  [[nodiscard]] static absl::StatusOr<Database> Open(const std::string& path,
                                                     const OpenFlags& flags);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Prepares exactly one statement. InvalidArgument (SQLite's text) if `sql` holds more than one
  // statement; otherwise as SqliteError.
  [[nodiscard]] absl::StatusOr<Statement> Prepare(std::string_view sql,
                                                  CallSite where = CallSite::Here());
  // The statement for `sql`, prepared on first use and kept for the connection's lifetime. `sql`
  // must be a string literal (the cache is keyed by its text).
  [[nodiscard]] absl::StatusOr<CachedStatement> Cached(const char* sql,
                                                       CallSite where = CallSite::Here());
  // Runs `sql`, which may hold several statements and must return no rows the caller needs.
  [[nodiscard]] absl::Status Execute(std::string_view sql, CallSite where = CallSite::Here());
  // Runs a query returning one integer (e.g. "PRAGMA user_version").
  [[nodiscard]] absl::StatusOr<int64_t> QueryInt(const char* sql,
                                                 CallSite where = CallSite::Here());

  // Rows changed by the most recent INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void Close() noexcept;

  sqlite3* db_ = nullptr;
  std::string path_;
  // Keyed by the SQL text; unique_ptr keeps each Statement's address stable for CachedStatement.
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// BEGIN IMMEDIATE (Begin) or BEGIN (BeginRead), and ROLLBACK on destruction unless Commit()
// succeeded. IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
// instead of one failing at its first write; a lock still held after the timeout is Unavailable.
class Transaction {
 public:
  [[nodiscard]] static absl::StatusOr<Transaction> Begin(Database& db,
                                                         CallSite where = CallSite::Here());
  // A read transaction (plain BEGIN): every query until Commit sees one snapshot of the file.
  [[nodiscard]] static absl::StatusOr<Transaction> BeginRead(Database& db,
                                                             CallSite where = CallSite::Here());

  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] absl::Status Commit(CallSite where = CallSite::Here());

 private:
  explicit Transaction(Database* db) : db_(db) {}

  Database* db_;  // null once committed or moved from
};

}  // namespace istar::db::internal

#endif  // ISTAR_DB_INTERNAL_SQLITE_H_
