#include "cli/table.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "catalog/catalog.h"

namespace istar::cli {
namespace {

// Characters, not bytes: every byte except UTF-8 continuation bytes (10xxxxxx) starts one.
size_t DisplayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void Pad(std::ostream& out, size_t count) {
  for (size_t i = 0; i < count; ++i) out << ' ';
}

void WriteText(const Table& table, std::ostream& out) {
  std::vector<size_t> widths;
  for (const std::string& column : table.columns) widths.push_back(DisplayWidth(column));
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c].text));
    }
  }
  // Trailing spaces are left out, so the last column is never padded on the right.
  auto write_row = [&](const std::vector<Cell>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
      std::ostringstream cell;
      const size_t gap = widths[c] - DisplayWidth(cells[c].text);
      if (cells[c].kind == Cell::Kind::kNumber) Pad(cell, gap);
      cell << cells[c].text;
      if (cells[c].kind != Cell::Kind::kNumber && c + 1 < cells.size()) Pad(cell, gap);
      line += (c == 0 ? "" : "  ") + cell.str();
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  };
  std::vector<Cell> header;
  std::vector<Cell> rule;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    header.push_back(Text(table.columns[c]));
    rule.push_back(Text(std::string(widths[c], '-')));
  }
  write_row(header);
  write_row(rule);
  for (const auto& row : table.rows) write_row(row);
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos &&
      (text.empty() || (text.front() != ' ' && text.back() != ' '))) {
    return text;
  }
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void WriteCsv(const Table& table, std::ostream& out) {
  auto write_row = [&](const std::vector<std::string>& fields) {
    for (size_t c = 0; c < fields.size(); ++c) out << (c ? "," : "") << CsvField(fields[c]);
    out << "\n";
  };
  write_row(table.columns);
  for (const auto& row : table.rows) {
    std::vector<std::string> fields;
    for (const Cell& cell : row) fields.push_back(cell.text);
    write_row(fields);
  }
}

nlohmann::ordered_json JsonValue(const Cell& cell) {
  if (cell.kind == Cell::Kind::kNull) return nullptr;
  if (cell.kind == Cell::Kind::kNumber) {
    const char* begin = cell.text.data();
    const char* end = begin + cell.text.size();
    int64_t integer = 0;
    if (auto [ptr, ec] = std::from_chars(begin, end, integer); ec == std::errc() && ptr == end) {
      return integer;
    }
    double real = 0.0;
    if (auto [ptr, ec] = std::from_chars(begin, end, real);
        ec == std::errc() && ptr == end && std::isfinite(real)) {
      return real;
    }
  }
  return cell.text;  // text, and numbers JSON cannot spell (nan, inf)
}

void WriteJson(const Table& table, std::ostream& out) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : table.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < row.size() && c < table.columns.size(); ++c) {
      object[table.columns[c]] = JsonValue(row[c]);
    }
    rows.push_back(std::move(object));
  }
  out << rows.dump(2) << "\n";
}

std::string MarkdownField(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '|') escaped += '\\';
    escaped += (c == '\n' ? ' ' : c);
  }
  return escaped;
}

void WriteMarkdown(const Table& table, std::ostream& out) {
  out << "|";
  for (const std::string& column : table.columns) out << " " << MarkdownField(column) << " |";
  out << "\n|";
  for (size_t c = 0; c < table.columns.size(); ++c) {
    // A column of numbers (and empty cells) is right-aligned.
    const bool numeric = !table.rows.empty() &&
                         std::all_of(table.rows.begin(), table.rows.end(), [c](const auto& row) {
                           return c >= row.size() || row[c].kind != Cell::Kind::kText;
                         });
    out << (numeric ? " ---: |" : " --- |");
  }
  out << "\n";
  for (const auto& row : table.rows) {
    out << "|";
    for (const Cell& cell : row) out << " " << MarkdownField(cell.text) << " |";
    out << "\n";
  }
}

}  // namespace

void AddFormatOption(CLI::App& command, std::string& format) {
  command.add_option("--format", format, "Output format: text, csv, json or markdown")
      ->check(CLI::IsMember({"text", "csv", "json", "markdown"}))
      ->default_val("text");
}

TableFormat ParseTableFormat(const std::string& name) {
  if (name == "csv") return TableFormat::kCsv;
  if (name == "json") return TableFormat::kJson;
  if (name == "markdown") return TableFormat::kMarkdown;
  return TableFormat::kText;
}

std::string FormatDouble(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : "nan";
}

std::string RegularizerLabel(const std::string& name,
                             const std::map<std::string, double>& parameters) {
  std::string label = name;
  for (const auto& [parameter, value] : parameters) {
    label += " " + parameter + "=" + FormatDouble(value);
  }
  return label;
}

TrialCells TrialCellsOf(const sweeps::TrialSpec& trial) {
  return {.id = trial.id,
          .model = trial.model,
          .task = trial.task,
          .regularizer = trial.regularizer,
          .parameters = trial.parameters,
          .lambda = trial.Parameter("lambda"),
          .zeta = trial.Parameter("zeta"),
          .learning_rate = trial.learning_rate,
          .batch_size = trial.batch_size,
          .epochs = trial.epochs,
          .seed = trial.seed};
}

TrialCells TrialCellsOf(const db::TrialRecord& trial) {
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(trial.regularizer);
  const auto has = [&](std::string_view name) {
    return spec == nullptr || spec->FindParameter(name) != nullptr;
  };
  return {.id = trial.id,
          .model = trial.model,
          .task = trial.task,
          .regularizer = trial.regularizer,
          .parameters = trial.parameters,
          .lambda = has("lambda") ? std::optional<double>(trial.lambda) : std::nullopt,
          .zeta = has("zeta") ? std::optional<double>(trial.zeta) : std::nullopt,
          .learning_rate = trial.learning_rate,
          .batch_size = trial.batch_size,
          .epochs = trial.epochs,
          .seed = trial.seed};
}

std::vector<std::string> TrialColumns() {
  return {"id",   "model",         "task",       "regularizer", "lambda",
          "zeta", "learning_rate", "batch_size", "epochs",      "seed"};
}

std::vector<Cell> TrialRowCells(const TrialCells& trial, bool short_id) {
  constexpr size_t kShortId = 12;
  return {Text(short_id ? trial.id.substr(0, kShortId) : trial.id),
          Text(trial.model),
          Text(trial.task),
          Text(RegularizerLabel(trial.regularizer, trial.parameters)),
          Number(trial.lambda),
          Number(trial.zeta),
          Number(trial.learning_rate),
          Number(trial.batch_size),
          Number(trial.epochs),
          Number(trial.seed)};
}

Cell Text(std::string text) { return {std::move(text), Cell::Kind::kText}; }
Cell Number(double value) { return {FormatDouble(value), Cell::Kind::kNumber}; }
Cell Number(int64_t value) { return {std::to_string(value), Cell::Kind::kNumber}; }
Cell Null() { return {"", Cell::Kind::kNull}; }
Cell Number(const std::optional<double>& value) { return value ? Number(*value) : Null(); }

void WriteTable(const Table& table, TableFormat format, std::ostream& out) {
  switch (format) {
    case TableFormat::kText:
      return WriteText(table, out);
    case TableFormat::kCsv:
      return WriteCsv(table, out);
    case TableFormat::kJson:
      return WriteJson(table, out);
    case TableFormat::kMarkdown:
      return WriteMarkdown(table, out);
  }
}

}  // namespace istar::cli
