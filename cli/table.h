// File: cli/table.h
// -----------------------------------------------------------------------------
// The one table printer of the read commands (`istar trials`, `compare`, `export`, `sql`): named
// columns and rows of cells, written as an aligned text table, CSV (RFC 4180), JSON (an array of
// objects) or a Markdown table. docs/cli.md describes the four formats.
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
#include <optional>
#include <ostream>
#include <string>
#include <vector>

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

}  // namespace istar::cli

#endif  // ISTAR_CLI_TABLE_H_
