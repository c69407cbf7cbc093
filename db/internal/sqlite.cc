#include "db/internal/sqlite.h"

#include <sys/stat.h>

#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace istar::db::internal {
namespace {

constexpr size_t kMaxSqlInMessage = 300;

struct CodeInfo {
  int code;
  const char* name;
  absl::StatusCode status;  // what the caller should do; see SqliteError in sqlite.h
};

// Extended codes that say more than their primary code come first; the rest are primary codes.
constexpr CodeInfo kCodes[] = {
    {SQLITE_CONSTRAINT_FOREIGNKEY, "SQLITE_CONSTRAINT_FOREIGNKEY", absl::StatusCode::kNotFound},
    {SQLITE_CONSTRAINT_CHECK, "SQLITE_CONSTRAINT_CHECK", absl::StatusCode::kInvalidArgument},
    {SQLITE_CONSTRAINT_NOTNULL, "SQLITE_CONSTRAINT_NOTNULL", absl::StatusCode::kInvalidArgument},
    {SQLITE_CONSTRAINT_PRIMARYKEY, "SQLITE_CONSTRAINT_PRIMARYKEY",
     absl::StatusCode::kInvalidArgument},
    {SQLITE_CONSTRAINT_UNIQUE, "SQLITE_CONSTRAINT_UNIQUE", absl::StatusCode::kInvalidArgument},
    {SQLITE_CONSTRAINT_DATATYPE, "SQLITE_CONSTRAINT_DATATYPE", absl::StatusCode::kInvalidArgument},
    {SQLITE_BUSY_SNAPSHOT, "SQLITE_BUSY_SNAPSHOT", absl::StatusCode::kUnavailable},
    {SQLITE_READONLY_DBMOVED, "SQLITE_READONLY_DBMOVED", absl::StatusCode::kFailedPrecondition},
    {SQLITE_ERROR, "SQLITE_ERROR", absl::StatusCode::kInternal},
    {SQLITE_INTERNAL, "SQLITE_INTERNAL", absl::StatusCode::kInternal},
    {SQLITE_PERM, "SQLITE_PERM", absl::StatusCode::kInternal},
    {SQLITE_ABORT, "SQLITE_ABORT", absl::StatusCode::kInternal},
    {SQLITE_BUSY, "SQLITE_BUSY", absl::StatusCode::kUnavailable},
    {SQLITE_LOCKED, "SQLITE_LOCKED", absl::StatusCode::kUnavailable},
    {SQLITE_NOMEM, "SQLITE_NOMEM", absl::StatusCode::kInternal},
    {SQLITE_READONLY, "SQLITE_READONLY", absl::StatusCode::kFailedPrecondition},
    {SQLITE_INTERRUPT, "SQLITE_INTERRUPT", absl::StatusCode::kInternal},
    {SQLITE_IOERR, "SQLITE_IOERR", absl::StatusCode::kInternal},
    {SQLITE_CORRUPT, "SQLITE_CORRUPT", absl::StatusCode::kDataLoss},
    {SQLITE_FULL, "SQLITE_FULL", absl::StatusCode::kResourceExhausted},
    {SQLITE_CANTOPEN, "SQLITE_CANTOPEN", absl::StatusCode::kNotFound},
    {SQLITE_PROTOCOL, "SQLITE_PROTOCOL", absl::StatusCode::kInternal},
    {SQLITE_SCHEMA, "SQLITE_SCHEMA", absl::StatusCode::kInternal},
    {SQLITE_TOOBIG, "SQLITE_TOOBIG", absl::StatusCode::kInvalidArgument},
    {SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT", absl::StatusCode::kInvalidArgument},
    {SQLITE_MISMATCH, "SQLITE_MISMATCH", absl::StatusCode::kInternal},
    {SQLITE_MISUSE, "SQLITE_MISUSE", absl::StatusCode::kInternal},
    {SQLITE_RANGE, "SQLITE_RANGE", absl::StatusCode::kInternal},
    {SQLITE_NOTADB, "SQLITE_NOTADB", absl::StatusCode::kInvalidArgument},
};

// The entry for `rc`: its own if listed, else its primary code's (rc & 0xff).
const CodeInfo* FindCode(int rc) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == rc) return &info;
  }
  for (const CodeInfo& info : kCodes) {
    if (info.code == (rc & 0xff)) return &info;
  }
  return nullptr;
}

// The SQL on one line, shortened: migration scripts span dozens of lines.
std::string OneLine(std::string_view sql) {
  std::string out;
  for (const char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxSqlInMessage) out = absl::StrCat(out.substr(0, kMaxSqlInMessage), "...");
  return out;
}

// "/work/main/db/store.cc" -> "db/store.cc": the path as spelled from the repository root,
// which db/CMakeLists.txt passes as ISTAR_SOURCE_ROOT.
std::string RepoRelative(std::string_view file) {
  constexpr std::string_view kRoot = ISTAR_SOURCE_ROOT;
  if (file.substr(0, kRoot.size()) == kRoot) file.remove_prefix(kRoot.size());
  return std::string(file);
}

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, std::string_view sql, CallSite where) {
  // With extended result codes on, `rc` is already precise; the connection's own code is the
  // fallback for calls (sqlite3_open_v2) that report only the primary one.
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff)) {
    rc = sqlite3_extended_errcode(db);
  }
  const char* text = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const CodeInfo* info = FindCode(rc);
  std::string message =
      absl::StrCat(RepoRelative(where.file), ":", where.line, ": SQLite '", text, "' (",
                   info ? info->name : absl::StrCat("result code ", rc), ")");
  if (!sql.empty()) absl::StrAppend(&message, ": in \"", OneLine(sql), "\"");
  return absl::Status(info ? info->status : absl::StatusCode::kInternal, message);
}

absl::Status WithCode(const absl::Status& status, absl::StatusCode code) {
  return status.ok() ? status : absl::Status(code, status.message());
}

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)),
      bind_status_(std::move(other.bind_status_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
    bind_status_ = std::move(other.bind_status_);
  }
  return *this;
}

// sqlite3_finalize returns the code of the statement's last step, already reported; it always
// frees the statement.
Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::KeepBindError(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ =
        SqliteError(db_, rc, absl::StrCat(sql_, " [parameter ", index, "]"), CallSite::Here());
  }
}

void Statement::BindInt(int index, int64_t value) {
  KeepBindError(sqlite3_bind_int64(stmt_, index, value), index);
}
void Statement::BindDouble(int index, double value) {
  KeepBindError(sqlite3_bind_double(stmt_, index, value), index);
}
void Statement::BindText(int index, std::string_view value) {
  KeepBindError(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}
void Statement::BindNull(int index) { KeepBindError(sqlite3_bind_null(stmt_, index), index); }
void Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  value ? BindText(index, *value) : BindNull(index);
}
void Statement::BindOptionalInt(int index, std::optional<int64_t> value) {
  value ? BindInt(index, *value) : BindNull(index);
}
void Statement::BindOptionalDouble(int index, std::optional<double> value) {
  value ? BindDouble(index, *value) : BindNull(index);
}

absl::StatusOr<bool> Statement::Step(CallSite where) {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, sql_, where);
}

absl::Status Statement::Run(CallSite where) {
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, Step(where));
    if (!row) break;
  }
  sqlite3_reset(stmt_);
  return absl::OkStatus();
}

void Statement::Reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_status_ = absl::OkStatus();
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }
std::string Statement::ColumnName(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name != nullptr ? name : "";
}
int Statement::ColumnType(int column) const { return sqlite3_column_type(stmt_, column); }
int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (IsNull(column)) return std::nullopt;
  return ColumnText(column);
}
std::optional<int64_t> Statement::ColumnOptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return ColumnInt(column);
}
std::optional<double> Statement::ColumnOptionalDouble(int column) const {
  if (IsNull(column)) return std::nullopt;
  return ColumnDouble(column);
}
bool Statement::IsReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

// ---------------------------------------------------------------------------------------------
// Database

absl::StatusOr<Database> Database::Open(const std::string& path, const OpenFlags& flags) {
  if (flags.read_only) {
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) {
      return absl::NotFoundError(absl::StrCat(path, ": no such database file"));
    }
  }
  // NOMUTEX: the Store's own mutex serializes each connection (Note [One connection per Store]).
  const int open_flags =
      SQLITE_OPEN_NOMUTEX |
      (flags.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* handle = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, open_flags, nullptr);
  // Even a failed open usually allocates a handle, which carries the message and must be closed.
  Database db(handle, path);
  if (rc != SQLITE_OK) {
    const absl::Status error = SqliteError(handle, rc, "", CallSite::Here());
    return absl::Status(error.code(), absl::StrCat(path, ": ", error.message()));
  }
  sqlite3_extended_result_codes(handle, 1);
  ISTAR_SQLITE_RETURN_IF_ERROR(handle, sqlite3_busy_timeout(handle, flags.busy_timeout_ms),
                               "sqlite3_busy_timeout");
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Database::~Database() { Close(); }

void Database::Close() noexcept {
  cache_.clear();  // statements are finalized before their connection closes
  // sqlite3_close_v2 cannot fail once every statement is finalized; the _v2 form defers the
  // close instead of leaking if one were still alive.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

absl::StatusOr<Statement> Database::Prepare(std::string_view sql, CallSite where) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql, where);
  Statement statement(db_, stmt, std::string(sql));
  if (stmt == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no SQL statement in \"", std::string(sql), "\""));
  }
  // What follows the statement must hold no other: SQLite prepares whitespace, semicolons and
  // comments to no statement at all.
  const char* end = sql.data() + sql.size();
  if (tail != nullptr && tail < end) {
    sqlite3_stmt* next = nullptr;
    const int next_rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &next, nullptr);
    sqlite3_finalize(next);
    if (next_rc != SQLITE_OK || next != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected one SQL statement, got more: \"", std::string(sql), "\""));
    }
  }
  return statement;
}

absl::StatusOr<CachedStatement> Database::Cached(const char* sql, CallSite where) {
  auto it = cache_.find(std::string_view(sql));
  if (it == cache_.end()) {
    ISTAR_ASSIGN_OR_RETURN(Statement statement, Prepare(sql, where));
    it = cache_.emplace(sql, std::make_unique<Statement>(std::move(statement))).first;
  }
  it->second->Reset();
  return CachedStatement(it->second.get());
}

absl::Status Database::Execute(std::string_view sql, CallSite where) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text as sqlite3_errmsg, which SqliteError reads
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql, where);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Database::QueryInt(const char* sql, CallSite where) {
  ISTAR_ASSIGN_OR_RETURN(Statement statement, Prepare(sql, where));
  ISTAR_ASSIGN_OR_RETURN(const bool row, statement.Step(where));
  if (!row) return absl::InternalError(absl::StrCat("no row from \"", sql, "\""));
  return statement.ColumnInt(0);
}

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

// ---------------------------------------------------------------------------------------------
// Transaction

absl::StatusOr<Transaction> Transaction::Begin(Database& db, CallSite where) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement begin, db.Cached("BEGIN IMMEDIATE", where));
  ISTAR_RETURN_IF_ERROR(begin->Run(where));
  return Transaction(&db);
}

absl::StatusOr<Transaction> Transaction::BeginRead(Database& db, CallSite where) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement begin, db.Cached("BEGIN", where));
  ISTAR_RETURN_IF_ERROR(begin->Run(where));
  return Transaction(&db);
}

Transaction::~Transaction() {
  // A failed ROLLBACK leaves nothing to do: SQLite rolls back itself when the connection closes,
  // and the next BEGIN reports the problem.
  if (db_ != nullptr) sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

absl::Status Transaction::Commit(CallSite where) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement commit, db_->Cached("COMMIT", where));
  ISTAR_RETURN_IF_ERROR(commit->Run(where));
  db_ = nullptr;
  return absl::OkStatus();
}

}  // namespace istar::db::internal
