// RunReadOnlyQuery: one statement of the user's SQL, allowed only if it reads.
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "db/internal/operations.h"

namespace istar::db::internal {
namespace {

// An SQL error in the user's own query (syntax, an unknown table, a runtime error) is bad input;
// busy, corrupt and similar keep their codes.
absl::Status UserError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInternal
             ? WithCode(status, absl::StatusCode::kInvalidArgument)
             : status;
}

QueryValue ReadValue(const Statement& row, int column) {
  switch (row.ColumnType(column)) {
    case SQLITE_NULL:
      return {QueryValue::Kind::kNull, ""};
    case SQLITE_INTEGER:
      return {QueryValue::Kind::kInteger, row.ColumnText(column)};
    case SQLITE_FLOAT:
      return {QueryValue::Kind::kReal, row.ColumnText(column)};
    case SQLITE_TEXT:
      return {QueryValue::Kind::kText, row.ColumnText(column)};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "x'";
  for (const char c : row.ColumnText(column)) {
    const auto byte = static_cast<unsigned char>(c);
    text.push_back(kHex[byte >> 4]);
    text.push_back(kHex[byte & 0xf]);
  }
  text.push_back('\'');
  return {QueryValue::Kind::kBlob, std::move(text)};
}

}  // namespace

absl::StatusOr<QueryResult> RunReadOnlyQuery(Database& db, const std::string& sql) {
  absl::StatusOr<Statement> prepared = db.Prepare(sql);
  if (!prepared.ok()) return UserError(prepared.status());
  Statement& statement = *prepared;
  // sqlite3_stmt_readonly alone admits BEGIN, ATTACH and setting-changing PRAGMAs, which return
  // no rows; requiring result columns leaves the statements that only read: SELECT, WITH ...
  // SELECT, VALUES, EXPLAIN and the PRAGMAs that report.
  if (!statement.IsReadOnly() || statement.ColumnCount() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "only a statement that reads and returns rows (SELECT, WITH, VALUES, EXPLAIN, a PRAGMA "
        "that reports) may run here; \"",
        sql, "\" ", statement.IsReadOnly() ? "returns no rows" : "writes to the database"));
  }
  QueryResult result;
  for (int c = 0; c < statement.ColumnCount(); ++c)
    result.columns.push_back(statement.ColumnName(c));
  while (true) {
    absl::StatusOr<bool> row = statement.Step();
    if (!row.ok()) return UserError(row.status());
    if (!*row) break;
    std::vector<QueryValue>& values = result.rows.emplace_back();
    for (int c = 0; c < statement.ColumnCount(); ++c) values.push_back(ReadValue(statement, c));
  }
  return result;
}

}  // namespace istar::db::internal
