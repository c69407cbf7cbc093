// `istar compare --db FILE`: regularizers side by side per model and task, seeds aggregated.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/compare.h"
#include "cli/table.h"
#include "db/store.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {


std::string Fixed(double value, int digits, bool sign = false) {
  return sign ? absl::StrFormat("%+.*f", digits, value) : absl::StrFormat("%.*f", digits, value);
}

// "0.9500 ± 0.0265 (n=3) +0.0300 [-0.0248, +0.0848]": mean ± sample std over seeds, then the
// difference from the baseline cell and its Welch interval ("[n/a]" with fewer than 2 seeds).
std::string CellText(const std::optional<db::ComparisonCell>& cell, int digits) {
  if (!cell) return "-";
  std::string text = Fixed(cell->mean, digits);
  if (cell->stddev) absl::StrAppend(&text, " ± ", Fixed(*cell->stddev, digits));
  absl::StrAppend(&text, " (n=", cell->seeds, ")");
  if (const auto& d = cell->vs_baseline) {
    absl::StrAppend(&text, " ", Fixed(d->difference, digits, true), " [");
    if (d->low && d->high) {
      absl::StrAppend(&text, Fixed(*d->low, digits, true), ", ", Fixed(*d->high, digits, true));
    } else {
      absl::StrAppend(&text, "n/a");
    }
    absl::StrAppend(&text, "]");
  }
  return text;
}

// Rows (model, task), one column per regularizer: the table a paper prints.
Table WideTable(const db::ComparisonTable& table, int digits) {
  Table out{.columns = {"model", "task", "metric"}};
  for (const std::string& r : table.regularizers) out.columns.push_back(r);
  for (const db::ComparisonRow& row : table.rows) {
    std::vector<Cell> cells = {Text(row.model), Text(row.task), Text(row.metric)};
    for (const auto& cell : row.cells) cells.push_back(Text(CellText(cell, digits)));
    out.rows.push_back(std::move(cells));
  }
  return out;
}

// One row per (model, task, regularizer) cell, every number at full precision: the CSV and JSON
// output. With `hyperparameters_only`, the block that text and Markdown print under the wide
// table: which group each cell chose.
Table LongTable(const db::ComparisonTable& table, bool hyperparameters_only) {
  Table out{.columns = {"model", "task", "metric", "regularizer", "lambda", "zeta", "learning_rate",
                        "batch_size", "epochs", "seeds", "groups"}};
  if (!hyperparameters_only) {
    for (const char* c : {"mean", "std", "diff", "ci_low", "ci_high", "df"})
      out.columns.push_back(c);
  }
  for (const db::ComparisonRow& row : table.rows) {
    for (size_t i = 0; i < row.cells.size(); ++i) {
      if (!row.cells[i]) continue;
      const db::ComparisonCell& cell = *row.cells[i];
      std::vector<Cell> cells = {
          Text(row.model),
          Text(row.task),
          Text(row.metric),
          Text(RegularizerLabel(table.regularizers[i], cell.chosen.parameters)),
          Number(cell.chosen.lambda),
          Number(cell.chosen.zeta),
          Number(cell.chosen.learning_rate),
          Number(cell.chosen.batch_size),
          Number(cell.chosen.epochs),
          Number(cell.seeds),
          Number(cell.groups)};
      if (!hyperparameters_only) {
        const auto& d = cell.vs_baseline;
        cells.push_back(Number(cell.mean));
        cells.push_back(Number(cell.stddev));
        cells.push_back(d ? Number(d->difference) : Null());
        cells.push_back(d ? Number(d->low) : Null());
        cells.push_back(d ? Number(d->high) : Null());
        cells.push_back(d ? Number(d->df) : Null());
      }
      out.rows.push_back(std::move(cells));
    }
  }
  return out;
}

}  // namespace

absl::Status PrintComparison(const CompareFlags& flags) {
  if (flags.digits < 0 || flags.digits > 17) {
    return absl::InvalidArgumentError(
        absl::StrCat("--digits must be in [0, 17], got ", flags.digits));
  }
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(flags.db, {.mode = db::OpenMode::kReadOnly}));
  ISTAR_ASSIGN_OR_RETURN(const db::ComparisonTable table,
                         store->Compare({.sweeps = flags.sweeps,
                                         .metric = flags.metric,
                                         .split = flags.split,
                                         .higher_is_better = !flags.lower_is_better,
                                         .confidence = flags.confidence}));
  const TableFormat format = ParseTableFormat(flags.format);
  if (format == TableFormat::kCsv || format == TableFormat::kJson) {
    WriteTable(LongTable(table, false), format, std::cout);
    return absl::OkStatus();
  }
  const std::string what = flags.metric.empty() ? "each task's primary metric" : flags.metric;
  if (table.rows.empty()) {
    std::cout << "no done trial has " << what << " on split " << flags.split << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "%s on the %s split. Each cell: mean ± sample std over seeds (n=seeds) of its best\n"
      "hyperparameters, then its difference from baseline [%g%% Welch interval].\n\n",
      flags.metric.empty() ? "Each task's primary metric" : flags.metric, flags.split,
      100 * flags.confidence);
  WriteTable(WideTable(table, flags.digits), format, std::cout);
  std::cout << "\nchosen hyperparameters (best mean of `groups` candidates; ties: more seeds, "
               "then smaller values):\n\n";
  WriteTable(LongTable(table, true), format, std::cout);
  return absl::OkStatus();
}

CommandRunner AddCompareCommand(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Compare regularizers per model and task: for each cell the done trials' best "
      "hyperparameter group, its mean ± std over seeds, and its difference from baseline with a "
      "Welch confidence interval (docs/database.md).");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("--sweep", flags->sweeps, "Only trials of this sweep (name, id or id prefix)");
  cmd->add_option("--metric", flags->metric,
                  "final_results name to compare (default: accuracy; f1 for squad)");
  cmd->add_option("--split", flags->split, "final_results split to compare")
      ->default_val("validation");
  cmd->add_flag("--lower-is-better", flags->lower_is_better,
                "Choose the group with the lowest mean (for a loss)");
  cmd->add_option("--confidence", flags->confidence, "Level of the interval, in (0, 1)")
      ->default_val(0.95);
  cmd->add_option("--digits", flags->digits, "Decimals in the text and Markdown tables")
      ->default_val(4);
  AddFormatOption(*cmd, flags->format);
  return [flags] {
    const absl::Status status = PrintComparison(*flags);
    return status.ok() ? 0 : ReportError("compare", status);
  };
}

}  // namespace istar::cli
