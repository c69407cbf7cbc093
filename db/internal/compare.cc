// The comparison table: (model, task) rows, regularizer columns, seeds aggregated.
#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "db/internal/operations.h"
#include "db/stats.h"
#include "db/store.h"

namespace istar::db::internal {
namespace {

// Note [What makes a group]
// A group is every trial of a (model, task, regularizer) cell whose canonical configuration is
// the same but for its seed: not just the same lambda, zeta, learning rate, batch size and
// epochs, but the same max_seq_length, warm-up, task files, ... Two sweep files that differ only
// in a training setting therefore give two groups, never one group in which one file's score
// silently replaces the other's. The table shows the five hyperparameters and the regularizer's
// parameters; any other setting that is not the same in all groups of the cell is listed with
// the group (Hyperparameters::settings), and groups that show the same hyperparameters are
// reported as a GroupCollision so that the reader knows the columns do not tell them apart.

// The trials of one group.
struct GroupTrials {
  nlohmann::json configuration;         // the canonical configuration without "seed"
  std::map<int64_t, double> selection;  // seed -> value on the selection split
  std::map<int64_t, double> report;     // seed -> value on the reported split
  std::set<int64_t> diverged;           // seeds of trials that failed with "diverged: ..."
  std::set<int64_t> failed;             // seeds of the other failed trials
  std::map<int64_t, std::string> ids;   // seed -> trial id, done and failed alike
};

// One cell's groups, keyed by their hyperparameters (settings still empty) and configuration.
using CellGroups = std::map<std::pair<Hyperparameters, std::string>, GroupTrials>;

struct RowTrials {
  std::string metric;                       // reported
  std::string select_metric;                // chosen on
  std::map<std::string, CellGroups> cells;  // regularizer -> its groups
};
using Rows = std::map<std::pair<std::string, std::string>, RowTrials>;  // (model, task) -> row

absl::StatusOr<std::string> RowMetric(const std::string& task, const CompareOptions& options) {
  if (!options.metric.empty()) return options.metric;
  const catalog::TaskSpec* spec = catalog::FindTask(task);
  if (spec == nullptr || spec->primary_metric.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("task '", task, "' has no primary metric; choose the metric"));
  }
  return std::string(spec->primary_metric);
}

// Every done or failed trial of the options' sweeps, with its scores on the two splits.
absl::StatusOr<Rows> Load(Database& db, const CompareOptions& options,
                          const std::string& selection_split) {
  std::vector<std::string> where = {"t.status IN ('done', 'failed')"};
  std::vector<SqlParam> params = {{.kind = SqlParam::Kind::kText, .text = options.split},
                                  {.kind = SqlParam::Kind::kText, .text = selection_split}};
  ISTAR_RETURN_IF_ERROR(AddSweepCondition(db, options.sweeps, &where, &params));
  std::string sql =
      "SELECT t.model, t.task, t.regularizer, t.lambda, t.zeta, t.learning_rate, t.batch_size, "
      "t.epochs, t.seed, t.status, t.error, t.canonical_json, t.id, f.split, f.name, f.value "
      "FROM trials AS t LEFT JOIN final_results AS f ON f.trial_id = t.id AND "
      "t.status = 'done' AND f.split IN (?1, ?2) WHERE ";
  for (size_t i = 0; i < where.size(); ++i) absl::StrAppend(&sql, i ? " AND " : "", where[i]);
  ISTAR_ASSIGN_OR_RETURN(Statement select, db.Prepare(sql));
  BindParams(select, params);

  Rows rows;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    const std::pair<std::string, std::string> key(select.ColumnText(0), select.ColumnText(1));
    auto [it, added] = rows.try_emplace(key);
    RowTrials& trials = it->second;
    if (added) {
      ISTAR_ASSIGN_OR_RETURN(trials.metric, RowMetric(key.second, options));
      trials.select_metric = options.select_metric.empty() ? trials.metric : options.select_metric;
    }
    const std::string regularizer = select.ColumnText(2);
    Hyperparameters hyper{.lambda = select.ColumnDouble(3),
                          .zeta = select.ColumnDouble(4),
                          .learning_rate = select.ColumnDouble(5),
                          .batch_size = select.ColumnInt(6),
                          .epochs = select.ColumnInt(7)};
    const std::string canonical_json = select.ColumnText(11);
    ISTAR_ASSIGN_OR_RETURN(hyper.parameters, RegularizerParameters(regularizer, canonical_json));
    const int64_t seed = select.ColumnInt(8);
    const bool failed = select.ColumnText(9) == "failed";
    const std::string name = select.IsNull(13) ? std::string() : select.ColumnText(14);
    const bool scored =
        !failed && !select.IsNull(13) && (name == trials.metric || name == trials.select_metric);
    if (!failed && !scored) continue;  // a done trial without the metrics on these splits
    nlohmann::json configuration = nlohmann::json::parse(canonical_json, nullptr,
                                                         /*allow_exceptions=*/false);
    if (!configuration.is_object()) {
      return absl::DataLossError(absl::StrCat(db.path(), ": trial ", select.ColumnText(12),
                                              "'s canonical configuration is not a JSON object"));
    }
    configuration.erase("seed");
    std::string group_key = configuration.dump();
    GroupTrials& group = trials.cells[regularizer][{std::move(hyper), std::move(group_key)}];
    group.configuration = std::move(configuration);
    group.ids[seed] = select.ColumnText(12);
    if (failed) {
      (absl::StartsWith(select.ColumnText(10), "diverged") ? group.diverged : group.failed)
          .insert(seed);
      continue;
    }
    const std::string split = select.ColumnText(13);
    const double value = select.ColumnDouble(15);
    if (split == options.split && name == trials.metric) group.report[seed] = value;
    if (split == selection_split && name == trials.select_metric) group.selection[seed] = value;
  }
  // A row without any score (only failed trials, or another metric) says nothing to compare.
  std::erase_if(rows, [](const auto& row) {
    for (const auto& [regularizer, groups] : row.second.cells) {
      for (const auto& [key, group] : groups) {
        if (!group.report.empty() || !group.selection.empty()) return false;
      }
    }
    return true;
  });
  return rows;
}

// The keys shown as columns of the table (Hyperparameters' own fields), or the cell's identity.
bool IsShownKey(const std::string& key, const std::string& regularizer) {
  static const std::set<std::string> kShown = {"model",      "task",   "regularizer",
                                               "lambda",     "zeta",   "learning_rate",
                                               "batch_size", "epochs", "seed"};
  if (kShown.contains(key)) return true;
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(regularizer);
  if (spec == nullptr) return false;
  return std::any_of(spec->parameters.begin(), spec->parameters.end(),
                     [&](const catalog::ParameterSpec& p) { return p.name == key; });
}

// A group, summarized for the choice and the table.
struct Candidate {
  Hyperparameters hyper;  // with its settings
  const GroupTrials* trials = nullptr;
  std::vector<int64_t> seeds;     // scored seeds: a value on both splits (or counted as worst)
  std::vector<double> selection;  // their values, by seed
  std::vector<double> report;
};

// The worst value of a row's done trials on each split (the selection split's of the selection
// metric, the reported split's of the reported metric): the minimum, or the maximum for a loss,
// the one direction of CompareOptions::higher_is_better for both.
struct Worst {
  std::optional<double> selection;
  std::optional<double> report;
};

Worst WorstOf(const RowTrials& row, bool higher_is_better) {
  Worst worst;
  auto take = [&](std::optional<double>& current, double value) {
    if (!current || (higher_is_better ? value < *current : value > *current)) current = value;
  };
  for (const auto& [regularizer, groups] : row.cells) {
    for (const auto& [key, group] : groups) {
      for (const auto& [seed, value] : group.selection) take(worst.selection, value);
      for (const auto& [seed, value] : group.report) take(worst.report, value);
    }
  }
  return worst;
}

// The cell's groups in ascending Hyperparameters order, each with the settings that tell it
// apart (Note [What makes a group]); collisions are appended to `collisions`.
std::vector<Candidate> Candidates(const std::string& regularizer, const CellGroups& groups,
                                  const Worst& worst, const CompareOptions& options,
                                  std::vector<GroupCollision>* collisions) {
  // The settings whose value is not the same in every group ("absent" where a group lacks one).
  std::map<std::string, std::set<std::string>> values;
  for (const auto& [key, group] : groups) {
    for (const auto& [name, value] : group.configuration.items()) {
      if (!IsShownKey(name, regularizer)) values[name];
    }
  }
  for (auto& [name, seen] : values) {
    for (const auto& [key, group] : groups) {
      seen.insert(group.configuration.contains(name) ? group.configuration[name].dump() : "absent");
    }
  }
  std::vector<Candidate> candidates;
  for (const auto& [key, group] : groups) {
    Candidate candidate{.hyper = key.first, .trials = &group};
    for (const auto& [name, seen] : values) {
      if (seen.size() < 2) continue;
      candidate.hyper.settings[name] =
          group.configuration.contains(name) ? group.configuration[name].dump() : "absent";
    }
    for (const auto& [seed, value] : group.report) {
      const auto selected = group.selection.find(seed);
      if (selected == group.selection.end()) continue;
      candidate.seeds.push_back(seed);
      candidate.selection.push_back(selected->second);
      candidate.report.push_back(value);
    }
    if (options.diverged_as_worst && worst.selection && worst.report) {
      for (const int64_t seed : group.diverged) {
        candidate.seeds.push_back(seed);
        candidate.selection.push_back(*worst.selection);
        candidate.report.push_back(*worst.report);
      }
    }
    candidates.push_back(std::move(candidate));
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.hyper < b.hyper; });

  // Collisions: runs of groups whose shown hyperparameters are equal.
  for (size_t i = 0; i < candidates.size();) {
    Hyperparameters shown = candidates[i].hyper;
    shown.settings.clear();
    size_t j = i + 1;
    std::set<std::string> differ;
    for (; j < candidates.size(); ++j) {
      Hyperparameters other = candidates[j].hyper;
      other.settings.clear();
      if (!(other == shown)) break;
      for (const auto& [name, value] : candidates[j].hyper.settings) {
        if (candidates[i].hyper.settings.at(name) != value) differ.insert(name);
      }
    }
    if (j - i > 1) {
      collisions->push_back({.regularizer = regularizer,
                             .shown = shown,
                             .differ = {differ.begin(), differ.end()},
                             .groups = static_cast<int64_t>(j - i)});
    }
    i = j;
  }
  return candidates;
}

// Note [Choosing a cell's hyperparameters]
// A cell reports the candidate group whose mean over seeds on the selection split is best
// (highest, or lowest for a loss); its reported numbers are its scores on the reported split.
// A candidate has at least min_seeds scored seeds (by default the most any group of the cell
// has), so that a group whose one seed was lucky cannot win against groups of five. Ties are
// broken by more seeds (more evidence), then by the smallest hyperparameters compared as
// (lambda, zeta, the other parameters, learning_rate, batch_size, epochs, settings). Candidates
// are visited in that ascending order and only a strictly better one replaces the current
// choice, which implements both rules.
// Choosing the best of G groups and reporting the same scores biases the cell upwards: the
// maximum of G noisy means exceeds the true mean by about the noise's standard error times
// E[max of G standard normals] (1.97 for G = 24), which is the size of the gains the paper
// reports. With a held-out selection split the group is chosen on one part of the dev set and
// reported on the other, whose noise is independent of the choice; tests/db/compare_test.cc
// measures both on pure noise (Note [Selection bias, measured]).
ComparisonCell ChooseGroup(const std::vector<Candidate>& candidates,
                           const CompareOptions& options) {
  ComparisonCell cell{.groups = static_cast<int64_t>(candidates.size())};
  int64_t most = 0;
  for (const Candidate& c : candidates) most = std::max<int64_t>(most, c.seeds.size());
  cell.min_seeds = std::max<int64_t>(1, options.min_seeds.value_or(most));
  const Candidate* best = nullptr;
  double best_mean = 0.0;
  for (const Candidate& c : candidates) {
    const auto n = static_cast<int64_t>(c.seeds.size());
    if (n < cell.min_seeds) continue;
    ++cell.candidates;
    const double mean = Summarize(c.selection).mean;
    const bool better = options.higher_is_better ? mean > best_mean : mean < best_mean;
    if (best == nullptr || better ||
        (mean == best_mean && n > static_cast<int64_t>(best->seeds.size()))) {
      best = &c;
      best_mean = mean;
    }
  }
  if (best == nullptr) {  // no group has a scored seed: the cell shows its failures
    cell.mean = std::numeric_limits<double>::quiet_NaN();
    cell.selection_mean = cell.mean;
    for (const Candidate& c : candidates) {
      cell.diverged += static_cast<int64_t>(c.trials->diverged.size());
      cell.failed += static_cast<int64_t>(c.trials->failed.size());
    }
    return cell;
  }
  cell.chosen = best->hyper;
  cell.selection_mean = best_mean;
  const SampleSummary report = Summarize(best->report);
  cell.seeds = report.n;
  cell.mean = report.mean;
  cell.stddev = report.n >= 2 ? std::optional<double>(report.stddev) : std::nullopt;
  // Seeds and values ordered by seed (diverged seeds counted as worst were appended).
  std::vector<std::pair<int64_t, double>> by_seed;
  for (size_t i = 0; i < best->seeds.size(); ++i)
    by_seed.emplace_back(best->seeds[i], best->report[i]);
  std::sort(by_seed.begin(), by_seed.end());
  for (const auto& [seed, value] : by_seed) {
    cell.seed_ids.push_back(seed);
    cell.values.push_back(value);
  }
  cell.diverged = static_cast<int64_t>(best->trials->diverged.size());
  cell.failed = static_cast<int64_t>(best->trials->failed.size());
  for (const auto& [seed, id] : best->trials->ids) cell.trial_ids.push_back(id);
  return cell;
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
  // Both seed lists are sorted: walk them together for the shared seeds.
  std::vector<double> ours, theirs;
  for (size_t i = 0, j = 0; i < cell.seed_ids.size() && j < baseline.seed_ids.size();) {
    if (cell.seed_ids[i] < baseline.seed_ids[j]) {
      ++i;
    } else if (baseline.seed_ids[j] < cell.seed_ids[i]) {
      ++j;
    } else {
      ours.push_back(cell.values[i++]);
      theirs.push_back(baseline.values[j++]);
    }
  }
  difference.paired = PairedInterval(ours, theirs, confidence);
  return difference;
}

}  // namespace

absl::StatusOr<ComparisonTable> Compare(Database& db, const CompareOptions& options) {
  if (!(options.confidence > 0.0 && options.confidence < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence must be in (0, 1), got ", options.confidence));
  }
  if (options.split.empty()) return absl::InvalidArgumentError("the split must not be empty");
  if (options.min_seeds && *options.min_seeds < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_seeds must be at least 1, got ", *options.min_seeds));
  }
  const std::string selection_split =
      options.selection_split.empty() ? options.split : options.selection_split;
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  ISTAR_ASSIGN_OR_RETURN(const Rows rows, Load(db, options, selection_split));
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());

  ComparisonTable table{.split = options.split,
                        .selection_split = selection_split,
                        .confidence = options.confidence,
                        .diverged_as_worst = options.diverged_as_worst};
  // Columns in the catalogue's order (baseline first), names it does not know last.
  std::set<std::pair<size_t, std::string>> present;
  for (const auto& [key, row] : rows) {
    for (const auto& [regularizer, groups] : row.cells) {
      present.emplace(catalog::RegularizerOrder(regularizer), regularizer);
    }
  }
  for (const auto& [order, regularizer] : present) table.regularizers.push_back(regularizer);

  for (const auto& [key, trials] : rows) {
    const Worst worst = WorstOf(trials, options.higher_is_better);
    std::map<std::string, ComparisonCell> cells;
    for (const auto& [regularizer, groups] : trials.cells) {
      const size_t first_collision = table.collisions.size();
      const std::vector<Candidate> candidates =
          Candidates(regularizer, groups, worst, options, &table.collisions);
      for (size_t i = first_collision; i < table.collisions.size(); ++i) {
        table.collisions[i].model = key.first;
        table.collisions[i].task = key.second;
      }
      cells[regularizer] = ChooseGroup(candidates, options);
    }
    ComparisonRow& row = table.rows.emplace_back();
    row.model = key.first;
    row.task = key.second;
    row.metric = trials.metric;
    row.select_metric = trials.select_metric;
    const auto baseline = cells.find("baseline");
    for (const std::string& regularizer : table.regularizers) {
      const auto it = cells.find(regularizer);
      if (it == cells.end()) {
        row.cells.emplace_back();
        continue;
      }
      ComparisonCell cell = it->second;
      if (baseline != cells.end() && regularizer != "baseline" && cell.seeds > 0 &&
          baseline->second.seeds > 0) {
        cell.vs_baseline = VersusBaseline(cell, baseline->second, options.confidence);
      }
      row.cells.push_back(std::move(cell));
    }
  }
  return table;
}

}  // namespace istar::db::internal
