// `istar compare --db FILE`: regularizers side by side per model and task, seeds aggregated.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

std::string Interval(std::optional<double> low, std::optional<double> high, int digits) {
  if (!low || !high) return "[n/a]";
  return absl::StrCat("[", Fixed(*low, digits, true), ", ", Fixed(*high, digits, true), "]");
}

// "0.9500 ± 0.0265 (n=3, 1 diverged) +0.0300 [-0.0248, +0.0848] paired [-0.0100, +0.0700]":
// mean ± sample std over seeds, the seeds and the chosen group's failures, then the difference
// from the baseline cell with its Welch interval and its paired interval over the shared seeds
// ("[n/a]" with fewer than 2 seeds on either side, or 2 shared seeds).
std::string CellText(const std::optional<db::ComparisonCell>& cell, int digits) {
  if (!cell) return "-";
  std::string failures;
  if (cell->diverged > 0) absl::StrAppend(&failures, ", ", cell->diverged, " diverged");
  if (cell->failed > 0) absl::StrAppend(&failures, ", ", cell->failed, " failed");
  if (cell->seeds == 0) {  // no group had min_seeds scored seeds
    return absl::StrCat("no group with ", cell->min_seeds, " scored seeds",
                        failures.empty() ? "" : absl::StrCat(" (", failures.substr(2), ")"));
  }
  std::string text = Fixed(cell->mean, digits);
  if (cell->stddev) absl::StrAppend(&text, " ± ", Fixed(*cell->stddev, digits));
  absl::StrAppend(&text, " (n=", cell->seeds, failures, ")");
  if (const auto& d = cell->vs_baseline) {
    absl::StrAppend(&text, " ", Fixed(d->difference, digits, true), " ",
                    Interval(d->low, d->high, digits), " paired ");
    if (d->paired) {
      absl::StrAppend(&text, Interval(d->paired->low, d->paired->high, digits));
    } else {
      absl::StrAppend(&text, "[n/a]");
    }
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

// "max_seq_length=256 warmup_ratio=0.1": the settings that tell a group apart.
std::string SettingsText(const std::map<std::string, std::string>& settings) {
  std::string text;
  for (const auto& [name, value] : settings) {
    absl::StrAppend(&text, text.empty() ? "" : " ", name, "=", value);
  }
  return text;
}

// One row per (model, task, regularizer) cell, every number at full precision: the CSV and JSON
// output. With `hyperparameters_only`, the block that text and Markdown print under the wide
// table: which group each cell chose among how many.
Table LongTable(const db::ComparisonTable& table, bool hyperparameters_only) {
  Table out{.columns = {"model", "task", "metric", "regularizer", "lambda", "zeta", "learning_rate",
                        "batch_size", "epochs", "settings", "seeds", "diverged", "failed",
                        "candidates", "groups"}};
  if (!hyperparameters_only) {
    for (const char* c : {"min_seeds", "selection_mean", "mean", "std", "diff", "ci_low", "ci_high",
                          "df", "paired_n", "paired_diff", "paired_low", "paired_high"}) {
      out.columns.push_back(c);
    }
  }
  for (const db::ComparisonRow& row : table.rows) {
    for (size_t i = 0; i < row.cells.size(); ++i) {
      if (!row.cells[i]) continue;
      const db::ComparisonCell& cell = *row.cells[i];
      const bool chosen = cell.seeds > 0;
      auto shown = [&](auto value) { return chosen ? Number(value) : Null(); };
      std::vector<Cell> cells = {
          Text(row.model),
          Text(row.task),
          Text(row.metric),
          Text(RegularizerLabel(table.regularizers[i], cell.chosen.parameters)),
          shown(cell.chosen.lambda),
          shown(cell.chosen.zeta),
          shown(cell.chosen.learning_rate),
          shown(cell.chosen.batch_size),
          shown(cell.chosen.epochs),
          Text(SettingsText(cell.chosen.settings)),
          Number(cell.seeds),
          Number(cell.diverged),
          Number(cell.failed),
          Number(cell.candidates),
          Number(cell.groups)};
      if (!hyperparameters_only) {
        const auto& d = cell.vs_baseline;
        const auto& p = d ? d->paired : std::nullopt;
        cells.push_back(Number(cell.min_seeds));
        cells.push_back(shown(cell.selection_mean));
        cells.push_back(shown(cell.mean));
        cells.push_back(Number(cell.stddev));
        cells.push_back(d ? Number(d->difference) : Null());
        cells.push_back(d ? Number(d->low) : Null());
        cells.push_back(d ? Number(d->high) : Null());
        cells.push_back(d ? Number(d->df) : Null());
        cells.push_back(p ? Number(p->n) : Null());
        cells.push_back(p ? Number(p->difference) : Null());
        cells.push_back(p ? Number(p->low) : Null());
        cells.push_back(p ? Number(p->high) : Null());
      }
      out.rows.push_back(std::move(cells));
    }
  }
  return out;
}

// "bert/sst2 istar: 2 groups show lambda=-1 zeta=0.2 learning_rate=1e-05 batch_size=32 epochs=4
// and differ in max_seq_length".
std::string CollisionText(const db::GroupCollision& c) {
  return absl::StrFormat(
      "%s/%s %s: %d groups show lambda=%g zeta=%g learning_rate=%g batch_size=%d epochs=%d and "
      "differ in %s",
      c.model, c.task, RegularizerLabel(c.regularizer, c.shown.parameters), c.groups,
      c.shown.lambda, c.shown.zeta, c.shown.learning_rate, c.shown.batch_size, c.shown.epochs,
      absl::StrJoin(c.differ, ", "));
}

// The sentence above the table: what was chosen on what, and what was reported.
std::string Header(const db::ComparisonTable& table, const CompareFlags& flags) {
  std::string text = absl::StrFormat(
      "%s on the %s split. Each cell: mean ± sample std over seeds (n=seeds) of its best\n"
      "hyperparameters, then its difference from baseline [%g%% Welch interval] and the paired\n"
      "interval over the seeds both share.\n",
      flags.metric.empty() ? "Each task's primary metric" : flags.metric, table.split,
      100 * table.confidence);
  // Which way the choice goes, and on what: an isotropy measure has no "better" of its own.
  const std::string chosen_on =
      flags.select_metric.empty()
          ? (flags.metric.empty() ? "each task's primary metric" : flags.metric)
          : flags.select_metric;
  absl::StrAppend(&text, "Each cell's group: the ", flags.lower_is_better ? "lowest" : "highest",
                  " mean of ", chosen_on, ".\n");
  if (table.selection_split != table.split) {
    absl::StrAppend(&text, "Groups chosen on the ", table.selection_split,
                    " split, reported on the held-out ", table.split, " split.\n");
  } else {
    absl::StrAppend(&text,
                    "Groups chosen and reported on the same split: a cell of many groups is ",
                    "biased upwards\n(docs/database.md, \"The comparison table\").\n");
  }
  if (table.diverged_as_worst) {
    absl::StrAppend(&text, "Diverged seeds count as the row's worst score.\n");
  }
  return text;
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
                                         .select_metric = flags.select_metric,
                                         .split = flags.split,
                                         .selection_split = flags.select_on,
                                         .higher_is_better = !flags.lower_is_better,
                                         .confidence = flags.confidence,
                                         .min_seeds = flags.min_seeds,
                                         .diverged_as_worst = flags.diverged_as_worst}));
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
  std::cout << Header(table, flags) << "\n";
  WriteTable(WideTable(table, flags.digits), format, std::cout);
  std::cout << "\nchosen hyperparameters (best mean on the " << table.selection_split
            << " split among the `candidates`, the groups with at least min_seeds seeds; ties: "
               "more seeds, then smaller values):\n\n";
  WriteTable(LongTable(table, true), format, std::cout);
  if (!table.collisions.empty()) {
    std::cout << "\ngroups that differ only in settings outside these columns (compared as "
                 "separate groups):\n";
    for (const db::GroupCollision& c : table.collisions)
      std::cout << "  " << CollisionText(c) << "\n";
  }
  return absl::OkStatus();
}

CommandRunner AddCompareCommand(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Compare regularizers per model and task: for each cell the done trials' best "
      "hyperparameter group, its mean ± std over seeds, its failures, and its difference from "
      "baseline with Welch and paired confidence intervals (docs/database.md).");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("--sweep", flags->sweeps, "Only trials of this sweep (name, id or id prefix)");
  cmd->add_option("--metric", flags->metric,
                  "final_results name to compare (default: each task's primary metric, e.g. "
                  "accuracy; f1 for squad)");
  cmd->add_option("--select-metric", flags->select_metric,
                  "final_results name on which each cell's group is chosen (default: --metric); "
                  "e.g. --metric cls_isoscore_star --select-metric accuracy reports the isotropy "
                  "of the best-scoring hyperparameters");
  cmd->add_option("--split", flags->split,
                  "final_results split whose scores are reported (\"report\" with "
                  "training.selection)")
      ->default_val("validation");
  cmd->add_option(
      "--select-on", flags->select_on,
      "final_results split on which each cell's group is chosen (\"selection\" with "
      "training.selection); default: the --split itself, which biases the cell upwards");
  cmd->add_option("--min-seeds", flags->min_seeds,
                  "A group is a candidate only with at least this many scored seeds (default: the "
                  "most seeds any group of the cell has)");
  cmd->add_flag("--diverged-as-worst", flags->diverged_as_worst,
                "Count each diverged seed as the worst score of its (model, task) row instead of "
                "leaving it out");
  cmd->add_flag("--lower-is-better", flags->lower_is_better,
                "Choose the group with the lowest mean of the selection metric (for a loss)");
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
