// `istar sql --db FILE "SELECT ..."`: any read-only query on a results database.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "db/store.h"

namespace istar::cli {
namespace {

struct SqlFlags {
  std::string db;
  std::string sql;
  std::string format = "text";
};

Cell ToCell(const db::QueryValue& value) {
  switch (value.kind) {
    case db::QueryValue::Kind::kNull:
      return Null();
    case db::QueryValue::Kind::kInteger:
    case db::QueryValue::Kind::kReal:
      return {value.text, Cell::Kind::kNumber};
    case db::QueryValue::Kind::kText:
    case db::QueryValue::Kind::kBlob:
      return Text(value.text);
  }
  return Text(value.text);
}

absl::Status Run(const SqlFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(flags.db, {.mode = db::OpenMode::kReadOnly}));
  ISTAR_ASSIGN_OR_RETURN(const db::QueryResult result, store->RunReadOnlyQuery(flags.sql));
  Table table{.columns = result.columns};
  for (const auto& values : result.rows) {
    std::vector<Cell>& row = table.rows.emplace_back();
    for (const db::QueryValue& value : values) row.push_back(ToCell(value));
  }
  WriteTable(table, ParseTableFormat(flags.format), std::cout);
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddSqlCommand(CLI::App& app) {
  auto flags = std::make_shared<SqlFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sql",
      "Run one read-only SQL query (SELECT, WITH, VALUES, EXPLAIN, a reporting PRAGMA) on a "
      "results database and print its rows; the schema is in docs/database.md.");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("SQL", flags->sql,
                  "The query, e.g. \"SELECT status, count(*) FROM trials "
                  "GROUP BY status\"")
      ->required();
  AddFormatOption(*cmd, flags->format);
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("sql", status);
  };
}

}  // namespace istar::cli
