// `istar trials --db FILE`: the trials of a results database with their status and final results.
#include <CLI/CLI.hpp>
#include <charconv>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "db/store.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {

constexpr size_t kShortError = 48;

struct TrialsFlags {
  std::string db;
  std::vector<std::string> sweeps;
  std::vector<std::string> statuses;
  std::vector<std::string> models;
  std::vector<std::string> tasks;
  std::vector<std::string> regularizers;
  std::vector<std::string> where;
  std::string format = "text";
};

template <typename T>
absl::Status ParseNumber(const std::string& key, const std::string& text, std::vector<T>& out) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--where ", key, "=", text, ": not a number"));
  }
  out.push_back(value);
  return absl::OkStatus();
}

absl::Status AddStatus(const std::string& text, db::TrialFilter& filter) {
  const std::optional<db::TrialStatus> status = db::ParseTrialStatus(text);
  if (!status) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown status '", text, "' (pending, leased, running, done, failed, cancelled)"));
  }
  filter.statuses.push_back(*status);
  return absl::OkStatus();
}

absl::Status AddRegularizer(const std::string& text, db::TrialFilter& filter) {
  if (catalog::FindRegularizer(text) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown regularizer '", text, "' (", catalog::RegularizerNames(), ")"));
  }
  filter.regularizers.push_back(text);
  return absl::OkStatus();
}

absl::Status AddText(const std::string& value, std::vector<std::string>& out) {
  out.push_back(value);
  return absl::OkStatus();
}

// The keys of `--where KEY=VALUE` and how each adds its value to the filter (docs/cli.md).
using WhereParser = std::function<absl::Status(const std::string&, db::TrialFilter&)>;
const std::map<std::string, WhereParser>& WhereKeys() {
  static const auto* keys = new std::map<std::string, WhereParser>{
      {"sweep", [](const auto& v, auto& f) { return AddText(v, f.sweeps); }},
      {"id", [](const auto& v, auto& f) { return AddText(v, f.trial_ids); }},
      {"status", [](const auto& v, auto& f) { return AddStatus(v, f); }},
      {"model", [](const auto& v, auto& f) { return AddText(v, f.models); }},
      {"task", [](const auto& v, auto& f) { return AddText(v, f.tasks); }},
      {"regularizer", [](const auto& v, auto& f) { return AddRegularizer(v, f); }},
      {"lambda", [](const auto& v, auto& f) { return ParseNumber("lambda", v, f.lambdas); }},
      {"zeta", [](const auto& v, auto& f) { return ParseNumber("zeta", v, f.zetas); }},
      {"learning_rate",
       [](const auto& v, auto& f) { return ParseNumber("learning_rate", v, f.learning_rates); }},
      {"batch_size",
       [](const auto& v, auto& f) { return ParseNumber("batch_size", v, f.batch_sizes); }},
      {"epochs", [](const auto& v, auto& f) { return ParseNumber("epochs", v, f.epochs); }},
      {"seed", [](const auto& v, auto& f) { return ParseNumber("seed", v, f.seeds); }},
  };
  return *keys;
}

absl::Status AddWhere(const std::string& clause, db::TrialFilter& filter) {
  const size_t equals = clause.find('=');
  if (equals == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--where ", clause, ": expected KEY=VALUE, e.g. --where lambda=-5"));
  }
  const std::string key = clause.substr(0, equals);
  const auto it = WhereKeys().find(key);
  if (it == WhereKeys().end()) {
    std::vector<std::string> known;
    for (const auto& [name, parser] : WhereKeys()) known.push_back(name);
    return absl::InvalidArgumentError(
        absl::StrCat("--where: unknown key '", key, "' (", absl::StrJoin(known, ", "), ")"));
  }
  return it->second(clause.substr(equals + 1), filter);
}

absl::StatusOr<db::TrialFilter> MakeFilter(const TrialsFlags& flags) {
  db::TrialFilter filter{.sweeps = flags.sweeps, .models = flags.models, .tasks = flags.tasks};
  for (const std::string& status : flags.statuses) ISTAR_RETURN_IF_ERROR(AddStatus(status, filter));
  for (const std::string& r : flags.regularizers) ISTAR_RETURN_IF_ERROR(AddRegularizer(r, filter));
  for (const std::string& clause : flags.where) ISTAR_RETURN_IF_ERROR(AddWhere(clause, filter));
  return filter;
}

Table MakeTable(const std::vector<db::TrialRecord>& trials, TableFormat format) {
  // One column per (split, name) of final results found among the listed trials.
  std::set<std::pair<std::string, std::string>> results;
  for (const db::TrialRecord& trial : trials) {
    for (const db::FinalResult& r : trial.final_results) results.emplace(r.split, r.name);
  }
  Table table{.columns = TrialColumns()};
  table.columns.push_back("status");
  table.columns.push_back("attempts");
  for (const auto& [split, name] : results) table.columns.push_back(split + "/" + name);
  table.columns.push_back("error");
  const bool text = format == TableFormat::kText;
  for (const db::TrialRecord& trial : trials) {
    std::vector<Cell> row = TrialRowCells(TrialCellsOf(trial), /*short_id=*/text);
    row.push_back(Text(std::string(db::TrialStatusName(trial.status))));
    row.push_back(Number(trial.attempts));
    std::map<std::pair<std::string, std::string>, double> values;
    for (const db::FinalResult& r : trial.final_results) values[{r.split, r.name}] = r.value;
    for (const auto& key : results) {
      const auto it = values.find(key);
      row.push_back(it == values.end() ? Null() : Number(it->second));
    }
    std::string error = trial.error.value_or("");
    if (text && error.size() > kShortError) error = error.substr(0, kShortError - 3) + "...";
    row.push_back(trial.error ? Text(error) : Null());
    table.rows.push_back(std::move(row));
  }
  return table;
}

// "6 trials: 3 done, 1 failed, 2 pending".
std::string Summary(const std::vector<db::TrialRecord>& trials) {
  std::map<std::string, int> counts;
  for (const db::TrialRecord& trial : trials)
    ++counts[std::string(db::TrialStatusName(trial.status))];
  std::vector<std::string> parts;
  for (const auto& [status, count] : counts) parts.push_back(absl::StrCat(count, " ", status));
  return absl::StrCat(trials.size(), trials.size() == 1 ? " trial" : " trials",
                      parts.empty() ? "" : ": ", absl::StrJoin(parts, ", "));
}

absl::Status Run(const TrialsFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(const db::TrialFilter filter, MakeFilter(flags));
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(flags.db, {.mode = db::OpenMode::kReadOnly}));
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::TrialRecord> trials, store->ListTrials(filter));
  const TableFormat format = ParseTableFormat(flags.format);
  WriteTable(MakeTable(trials, format), format, std::cout);
  if (format == TableFormat::kText) std::cout << Summary(trials) << "\n";
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddTrialsCommand(CLI::App& app) {
  auto flags = std::make_shared<TrialsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "trials",
      "List the trials of a results database with their status and final results "
      "(docs/database.md). Repeated values of one filter are alternatives; different filters "
      "must all hold.");
  cmd->add_option("--db", flags->db, "Results database (opened read-only)")->required();
  cmd->add_option("--sweep", flags->sweeps, "Only trials of this sweep (name, id or id prefix)");
  cmd->add_option("--status", flags->statuses,
                  "Only trials in this state: pending, leased, running, done, failed, cancelled");
  cmd->add_option("--model", flags->models, "Only trials of this model");
  cmd->add_option("--task", flags->tasks, "Only trials of this task");
  cmd->add_option("--regularizer", flags->regularizers,
                  "Only trials with this regularizer: baseline, cosreg, istar");
  cmd->add_option("--where", flags->where,
                  "KEY=VALUE filter; keys: sweep, id, status, model, task, regularizer, lambda, "
                  "zeta, learning_rate, batch_size, epochs, seed");
  AddFormatOption(*cmd, flags->format);
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("trials", status);
  };
}

}  // namespace istar::cli
