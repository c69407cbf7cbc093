// The comparison table: (model, task) rows, regularizer columns, seeds aggregated.
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "db/internal/operations.h"
#include "db/stats.h"
#include "db/store.h"

namespace istar::db::internal {
namespace {

// Seed -> value of the done trials of one hyperparameter group.
using Group = std::map<int64_t, double>;
// Everything Compare reads, nested as the table is: (model, task) -> regularizer -> group.
using Cells = std::map<std::pair<std::string, std::string>,
                       std::map<std::string, std::map<Hyperparameters, Group>>>;

struct Loaded {
  Cells cells;
  std::map<std::pair<std::string, std::string>, std::string> metrics;  // per (model, task)
};

absl::StatusOr<Loaded> Load(Database& db, const CompareOptions& options) {
  std::vector<std::string> where = {"t.status = 'done'", "f.split = ?1"};
  std::vector<SqlParam> params = {{.kind = SqlParam::Kind::kText, .text = options.split}};
  if (!options.metric.empty()) {
    params.push_back({.kind = SqlParam::Kind::kText, .text = options.metric});
    where.push_back("f.name = ?2");
  }
  ISTAR_RETURN_IF_ERROR(AddSweepCondition(db, options.sweeps, &where, &params));
  std::string sql =
      "SELECT t.model, t.task, t.regularizer, t.lambda, t.zeta, t.learning_rate, t.batch_size, "
      "t.epochs, t.seed, f.name, f.value, t.canonical_json FROM trials AS t "
      "JOIN final_results AS f "
      "ON f.trial_id = t.id WHERE ";
  for (size_t i = 0; i < where.size(); ++i) absl::StrAppend(&sql, i ? " AND " : "", where[i]);
  ISTAR_ASSIGN_OR_RETURN(Statement select, db.Prepare(sql));
  BindParams(select, params);

  Loaded loaded;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    std::pair<std::string, std::string> key(select.ColumnText(0), select.ColumnText(1));
    std::string metric = options.metric;
    if (metric.empty()) {
      const catalog::TaskSpec* task = catalog::FindTask(key.second);
      if (task != nullptr) metric = std::string(task->primary_metric);
      if (metric.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("task '", key.second, "' has no primary metric; choose the metric"));
      }
    }
    if (select.ColumnText(9) != metric) continue;
    const std::string regularizer = select.ColumnText(2);
    Hyperparameters hyper{.lambda = select.ColumnDouble(3),
                          .zeta = select.ColumnDouble(4),
                          .learning_rate = select.ColumnDouble(5),
                          .batch_size = select.ColumnInt(6),
                          .epochs = select.ColumnInt(7)};
    ISTAR_ASSIGN_OR_RETURN(hyper.parameters,
                           RegularizerParameters(regularizer, select.ColumnText(11)));
    loaded.cells[key][regularizer][hyper][select.ColumnInt(8)] = select.ColumnDouble(10);
    loaded.metrics[key] = metric;
  }
  return loaded;
}

// Note [Choosing a cell's hyperparameters]
// A cell reports the group whose mean over seeds is best (highest, or lowest for a loss). Ties
// are broken by more seeds (more evidence), then by the smallest hyperparameters compared as
// (lambda, zeta, the other parameters, learning_rate, batch_size, epochs). Groups are visited in
// that ascending order and only a strictly better group replaces the current choice, which
// implements both rules.
// Choosing the best of several groups on the same data that is then reported biases the cell
// upwards; the paper's tables share the bias, and docs/database.md says so.
ComparisonCell ChooseGroup(const std::map<Hyperparameters, Group>& groups, bool higher_is_better) {
  ComparisonCell best;
  bool have = false;
  for (const auto& [hyper, group] : groups) {
    std::vector<double> values;
    for (const auto& [seed, value] : group) values.push_back(value);
    const SampleSummary summary = Summarize(values);
    const bool better_mean = higher_is_better ? summary.mean > best.mean : summary.mean < best.mean;
    if (!have || better_mean || (summary.mean == best.mean && summary.n > best.seeds)) {
      best.chosen = hyper;
      best.seeds = summary.n;
      best.mean = summary.mean;
      best.stddev = summary.n >= 2 ? std::optional<double>(summary.stddev) : std::nullopt;
      best.values = std::move(values);
      have = true;
    }
  }
  best.groups = static_cast<int64_t>(groups.size());
  return best;
}

Difference VersusBaseline(const ComparisonCell& cell, const ComparisonCell& baseline,
                          double confidence) {
  Difference difference{.difference = cell.mean - baseline.mean};
  const std::optional<WelchResult> welch =
      WelchInterval(Summarize(cell.values), Summarize(baseline.values), confidence);
  if (welch) {
    difference.low = welch->low;
    difference.high = welch->high;
    difference.df = welch->df;
  }
  return difference;
}

}  // namespace

absl::StatusOr<ComparisonTable> Compare(Database& db, const CompareOptions& options) {
  if (!(options.confidence > 0.0 && options.confidence < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence must be in (0, 1), got ", options.confidence));
  }
  if (options.split.empty()) return absl::InvalidArgumentError("the split must not be empty");
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  ISTAR_ASSIGN_OR_RETURN(const Loaded loaded, Load(db, options));
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());

  ComparisonTable table{.split = options.split, .confidence = options.confidence};
  // Columns in the catalogue's order (baseline first), names it does not know last.
  std::set<std::pair<size_t, std::string>> present;
  for (const auto& [key, by_regularizer] : loaded.cells) {
    for (const auto& [regularizer, groups] : by_regularizer) {
      present.emplace(catalog::RegularizerOrder(regularizer), regularizer);
    }
  }
  for (const auto& [order, regularizer] : present) table.regularizers.push_back(regularizer);

  for (const auto& [key, by_regularizer] : loaded.cells) {
    ComparisonRow& row = table.rows.emplace_back();
    row.model = key.first;
    row.task = key.second;
    row.metric = loaded.metrics.at(key);
    std::optional<ComparisonCell> baseline;
    if (auto it = by_regularizer.find("baseline"); it != by_regularizer.end()) {
      baseline = ChooseGroup(it->second, options.higher_is_better);
    }
    for (const std::string& regularizer : table.regularizers) {
      const auto it = by_regularizer.find(regularizer);
      if (it == by_regularizer.end()) {
        row.cells.emplace_back();
        continue;
      }
      ComparisonCell cell = ChooseGroup(it->second, options.higher_is_better);
      if (baseline && regularizer != "baseline") {
        cell.vs_baseline = VersusBaseline(cell, *baseline, options.confidence);
      }
      row.cells.push_back(std::move(cell));
    }
  }
  return table;
}

}  // namespace istar::db::internal
