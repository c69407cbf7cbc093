#include "report/report.h"

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "nlohmann/json.hpp"
#include "report/internal/assets.h"

namespace istar::report {
namespace {

using nlohmann::json;

// A number, or null where it is not finite (JSON has no NaN).
json Number(std::optional<double> value) {
  if (!value.has_value() || !std::isfinite(*value)) return nullptr;
  return *value;
}

// Note [Rounded trajectories]
// The trajectories are most of a report's bytes: a double prints as up to 17 digits, so 10^6
// points of IsoScore in [0, 1] took 46 MB of JSON. A chart resolves a few hundred pixels, so the
// page keeps 6 decimals (an error below 5e-7, invisible on any axis); the exact values stay in
// the database (`istar export`). Finals and the table's numbers are not rounded.
double Rounded(double value) { return std::round(value * 1e6) / 1e6; }

// The final result `name` of `trial` on `split`, if stored.
std::optional<double> Final(const db::TrialRecord& trial, const std::string& split,
                            std::string_view name) {
  for (const db::FinalResult& result : trial.final_results) {
    if (result.split == split && result.name == name) return result.value;
  }
  return std::nullopt;
}

std::string Iso8601(Timestamp time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(time), absl::UTCTimeZone());
}

// The dashboard's queue: every sweep with its counts by status, every worker group.
absl::StatusOr<json> QueueJson(db::Store& store) {
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::SweepProgress> sweeps, store.ListSweeps());
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::WorkerRecord> workers, store.ListWorkers());
  json sweep_list = json::array();
  for (const db::SweepProgress& sweep : sweeps) {
    json counts = json::object();
    for (const auto& [status, count] : sweep.by_status) {
      counts[std::string(db::TrialStatusName(status))] = count;
    }
    sweep_list.push_back({{"id", sweep.id},
                          {"name", sweep.name},
                          {"submitted_at", Iso8601(sweep.submitted_at)},
                          {"trial_count", sweep.trial_count},
                          {"by_status", std::move(counts)}});
  }
  json worker_list = json::array();
  for (const db::WorkerRecord& worker : workers) {
    worker_list.push_back({{"id", worker.id},
                           {"host", worker.host},
                           {"registered_at", Iso8601(worker.registered_at)},
                           {"last_seen_at", Iso8601(worker.last_seen_at)},
                           {"consecutive_failures", worker.consecutive_failures},
                           {"quarantined", worker.quarantined}});
  }
  return json{{"sweeps", std::move(sweep_list)}, {"workers", std::move(worker_list)}};
}

std::string FileName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

json CellJson(const std::string& regularizer, const db::ComparisonCell& cell,
              const std::map<std::string, const db::TrialRecord*>& trials,
              const std::string& split) {
  json settings = json::object();
  for (const auto& [key, value] : cell.chosen.settings) settings[key] = value;
  json out = {{"regularizer", regularizer},
              {"lambda", cell.chosen.lambda},
              {"zeta", cell.chosen.zeta},
              {"learning_rate", cell.chosen.learning_rate},
              {"batch_size", cell.chosen.batch_size},
              {"epochs", cell.chosen.epochs},
              {"settings", settings},
              {"mean", Number(cell.seeds > 0 ? std::optional(cell.mean) : std::nullopt)},
              {"stddev", Number(cell.stddev)},
              {"seeds", cell.seeds},
              {"diverged", cell.diverged},
              {"failed", cell.failed},
              {"groups", cell.groups},
              {"candidates", cell.candidates},
              {"difference", nullptr},
              {"low", nullptr},
              {"high", nullptr},
              {"paired_low", nullptr},
              {"paired_high", nullptr},
              {"trial_ids", cell.trial_ids}};
  if (cell.vs_baseline.has_value()) {
    out["difference"] = Number(cell.vs_baseline->difference);
    out["low"] = Number(cell.vs_baseline->low);
    out["high"] = Number(cell.vs_baseline->high);
    if (cell.vs_baseline->paired.has_value()) {
      out["paired_low"] = Number(cell.vs_baseline->paired->low);
      out["paired_high"] = Number(cell.vs_baseline->paired->high);
    }
  }
  // The chosen group's isotropy, beside its metric: the mean final cls_isoscore_star of its
  // done trials that have one.
  double sum = 0.0;
  int count = 0;
  for (const std::string& id : cell.trial_ids) {
    const auto trial = trials.find(id);
    if (trial == trials.end()) continue;
    const std::optional<double> iso = Final(*trial->second, split, "cls_isoscore_star");
    if (iso.has_value() && std::isfinite(*iso)) {
      sum += *iso;
      ++count;
    }
  }
  out["isotropy"] = count > 0 ? json(sum / count) : json(nullptr);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReportData(db::Store& store, const ReportOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(std::vector<db::TrialRecord> trials,
                         store.ListTrials({.sweeps = options.sweeps}));
  std::map<std::string, const db::TrialRecord*> by_id;
  for (const db::TrialRecord& trial : trials) by_id[trial.id] = &trial;

  ISTAR_ASSIGN_OR_RETURN(const db::ComparisonTable table,
                         store.Compare({.sweeps = options.sweeps,
                                        .split = options.split,
                                        .selection_split = options.selection_split}));
  json rows = json::array();
  for (const db::ComparisonRow& row : table.rows) {
    json cells = json::array();
    for (size_t i = 0; i < row.cells.size(); ++i) {
      cells.push_back(row.cells[i].has_value()
                          ? CellJson(table.regularizers[i], *row.cells[i], by_id, options.split)
                          : json(nullptr));
    }
    rows.push_back({{"model", row.model},
                    {"task", row.task},
                    {"metric", row.metric},
                    {"select_metric", row.select_metric},
                    {"cells", std::move(cells)}});
  }

  json trial_list = json::array();
  for (const db::TrialRecord& trial : trials) {
    const catalog::TaskSpec* task = catalog::FindTask(trial.task);
    const std::string metric = task != nullptr ? std::string(task->primary_metric) : "";
    json finals = json::object();
    for (const db::FinalResult& result : trial.final_results) {
      // The isotropy measures (docs/database.md, "final_results"): every name but the metrics.
      if (result.split == options.split &&
          (result.name.starts_with("cls_") || result.name == "token_isoscore" ||
           result.name == "avg_cosine_last_layer")) {
        finals[result.name] = Number(result.value);
      }
    }
    trial_list.push_back(
        {{"id", trial.id},
         {"model", trial.model},
         {"task", trial.task},
         {"regularizer", trial.regularizer},
         {"lambda", trial.lambda},
         {"zeta", trial.zeta},
         {"learning_rate", trial.learning_rate},
         {"batch_size", trial.batch_size},
         {"epochs", trial.epochs},
         {"seed", trial.seed},
         {"status", std::string(db::TrialStatusName(trial.status))},
         {"attempts", trial.attempts},
         {"error", trial.error.value_or("")},
         {"worker", trial.worker_id.has_value() ? json(*trial.worker_id) : json(nullptr)},
         {"metric_name", metric},
         {"metric", metric.empty() ? json(nullptr) : Number(Final(trial, options.split, metric))},
         {"final", std::move(finals)}});
  }

  // Layer −1's rows, one object of parallel arrays per trial, rounded (Note [Rounded
  // trajectories]): about 25 bytes a row in JSON.
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::IsotropyRow> union_rows,
                         store.ExportLayer(db::IsotropyRow::kUnionLayer));
  json trajectories = json::object();
  for (size_t i = 0; i < union_rows.size();) {
    const std::string& id = union_rows[i].trial_id;
    size_t end = i;
    while (end < union_rows.size() && union_rows[end].trial_id == id) ++end;
    if (by_id.contains(id)) {
      json steps = json::array();
      json star = json::array();
      json plain = json::array();
      for (size_t k = i; k < end; ++k) {
        steps.push_back(union_rows[k].step);
        star.push_back(Number(Rounded(union_rows[k].isoscore_star)));
        plain.push_back(Number(Rounded(union_rows[k].isoscore)));
      }
      trajectories[id] = {{"step", std::move(steps)},
                          {"isoscore_star", std::move(star)},
                          {"isoscore", std::move(plain)}};
    }
    i = end;
  }

  json sweeps = json::array();
  for (const std::string& sweep : options.sweeps) sweeps.push_back(sweep);
  json data = {
      {"title", options.title.empty() ? absl::StrCat("istar report: ", FileName(store.path()))
                                      : options.title},
      {"generated_at", Iso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now()))},
      {"database", store.path()},
      {"sweeps", std::move(sweeps)},
      {"comparison",
       {{"split", table.split},
        {"selection_split", table.selection_split},
        {"confidence", table.confidence},
        {"regularizers", table.regularizers},
        {"rows", std::move(rows)}}},
      {"trials", std::move(trial_list)},
      {"trajectories", std::move(trajectories)}};
  if (options.live.has_value()) {
    ISTAR_ASSIGN_OR_RETURN(data["queue"], QueueJson(store));
    data["live"] = {{"version", options.live->version},
                    {"refresh_ms", options.live->refresh_ms},
                    {"wait_ms", options.live->wait_ms}};
  }
  // Invalid UTF-8 in a stored error message is replaced rather than thrown on.
  return data.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string AssemblePage(std::string_view data_json) {
  // Inside a <script> element, "</script" would end the element early and "<!--" followed by
  // "<script" would make the parser swallow the element's own end tag. A "<" can only appear
  // inside a JSON string, where "\u003c" is the same character: written so, no text of the data
  // can end its element. (This Abseil's string_view is its own type, not std::string_view.)
  const std::string data = absl::StrReplaceAll(
      absl::string_view(data_json.data(), data_json.size()), {{"<", "\\u003c"}});
  const std::string page(internal::kTemplateHtml);
  // Each placeholder stands alone on its line of the template (report/web/README.md).
  std::string out;
  out.reserve(page.size() + data.size() + internal::kEchartsJs.size() + internal::kReportJs.size() +
              internal::kReportCss.size());
  size_t begin = 0;
  while (begin < page.size()) {
    size_t end = page.find('\n', begin);
    if (end == std::string::npos) end = page.size();
    const std::string_view line(page.data() + begin, end - begin);
    const size_t first = line.find_first_not_of(" \t");
    const std::string_view token = first == std::string_view::npos ? "" : line.substr(first);
    if (token == "/*@ISTAR_CSS@*/") {
      out.append(internal::kReportCss);
    } else if (token == "/*@ISTAR_ECHARTS@*/") {
      out.append(internal::kEchartsJs);
    } else if (token == "@ISTAR_DATA@") {
      out.append(data);
    } else if (token == "/*@ISTAR_REPORT_JS@*/") {
      out.append(internal::kReportJs);
    } else {
      out.append(line);
    }
    out.push_back('\n');
    begin = end + 1;
  }
  return out;
}

absl::StatusOr<std::string> RenderReport(db::Store& store, const ReportOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(const std::string data, ReportData(store, options));
  return AssemblePage(data);
}

}  // namespace istar::report
