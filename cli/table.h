// File: cli/table.h
// -----------------------------------------------------------------------------
// The one table printer of the read commands (`istar trials`, `compare`, `export`, `sql`,
// `sweep expand`, `sweep status`): named columns and rows of cells, written as an aligned text
// table, CSV (RFC 4180), JSON (an array of objects) or a Markdown table. docs/cli.md describes the
// four formats.
//
// Example:
//
//   Table table{.columns = {"model", "accuracy"}};
//   table.rows.push_back({Text("bert"), Number(0.92)});
//   WriteTable(table, TableFormat::kMarkdown, std::cout);
//
// Thread safety: plain functions on values.
#ifndef ISTAR_CLI_TABLE_H_
#define ISTAR_CLI_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "db/records.h"
#include "sweeps/sweep.h"

namespace CLI {
class App;
}  // namespace CLI

namespace istar::cli {

enum class TableFormat { kText, kCsv, kJson, kMarkdown };

// Adds `--format text|csv|json|markdown` (default text) to `command`, stored in `format`. CLI11
// rejects any other value, which makes the command exit with code 2.
void AddFormatOption(CLI::App& command, std::string& format);
// The format named by AddFormatOption's value; kText for anything else.
TableFormat ParseTableFormat(const std::string& name);

struct Cell {
  enum class Kind {
    kText,    // left-aligned; a JSON string
    kNumber,  // right-aligned; a JSON number (the text must be a number)
    kNull,    // empty in text, CSV and Markdown; JSON null
  };
  std::string text;
  Kind kind = Kind::kText;
};

Cell Text(std::string text);
// The shortest text that reads back as `value` (std::to_chars): 0.92, 1e-05, -5.
Cell Number(double value);
Cell Number(int64_t value);
Cell Null();
// Number(*value), or Null() when there is none.
Cell Number(const std::optional<double>& value);

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;  // each as long as columns
};

// Writes `table` in `format`. Text: columns separated by two spaces, numbers right-aligned, a
// rule under the header, widths counted in UTF-8 characters (so "±" is one). JSON: one object
// per row keyed by column, in column order.
void WriteTable(const Table& table, TableFormat format, std::ostream& out);

// The shortest decimal text that reads back as `value`.
std::string FormatDouble(double value);

// A regularizer as tables show it: its name, then its parameters other than lambda and zeta
// (which have columns of their own), "vicreg gamma=2". One spelling for `istar sweep expand`,
// `istar compare` and the trial tables.
std::string RegularizerLabel(const std::string& name,
                             const std::map<std::string, double>& parameters);

// ---- Trial rows: one set of columns for `istar sweep expand`, `istar trials` and `istar sweep
// status`, whichever a trial comes from (a sweep file's expansion, the database, the coordinator).

// What identifies a trial in a table.
struct TrialCells {
  std::string id;
  std::string model;
  std::string task;
  std::string regularizer;
  std::map<std::string, double> parameters;  // its other parameters, shown in its label
  std::optional<double> lambda;  // nullopt where the regularizer has no lambda (the baseline)
  std::optional<double> zeta;    // nullopt where it has no zeta (all but istar)
  double learning_rate = 0.0;
  int64_t batch_size = 0;
  int64_t epochs = 0;
  int64_t seed = 0;
};

TrialCells TrialCellsOf(const sweeps::TrialSpec& trial);
// lambda and zeta from the record's columns, kept for the regularizers whose catalogue row has
// them (and for a name the catalogue does not know, a newer istar's).
TrialCells TrialCellsOf(const db::TrialRecord& trial);

// id, model, task, regularizer, lambda, zeta, learning_rate, batch_size, epochs, seed.
std::vector<std::string> TrialColumns();
// The cells of TrialColumns(): the id cut to its first 12 hex digits when `short_id`, the
// regularizer as RegularizerLabel, null for a missing lambda or zeta.
std::vector<Cell> TrialRowCells(const TrialCells& trial, bool short_id);

}  // namespace istar::cli

#endif  // ISTAR_CLI_TABLE_H_
