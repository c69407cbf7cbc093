// The read side: trial listings, sweep progress, trial id prefixes, trajectories.
#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "db/internal/operations.h"

namespace istar::db::internal {
namespace {

Timestamp ToTimestamp(int64_t millis) { return Timestamp(std::chrono::milliseconds(millis)); }

std::optional<Timestamp> ToTimestamp(std::optional<int64_t> millis) {
  if (!millis) return std::nullopt;
  return ToTimestamp(*millis);
}

// Appends `column IN (?a, ?b, ...)` for non-empty `values`.
template <typename T>
void AddIn(const std::string& column, const std::vector<T>& values, std::vector<std::string>* where,
           std::vector<SqlParam>* params) {
  if (values.empty()) return;
  std::vector<std::string> slots;
  for (const T& value : values) {
    SqlParam param;
    if constexpr (std::is_same_v<T, std::string>) {
      param = {.kind = SqlParam::Kind::kText, .text = value};
    } else if constexpr (std::is_same_v<T, double>) {
      param = {.kind = SqlParam::Kind::kDouble, .double_value = value};
    } else {
      param = {.kind = SqlParam::Kind::kInt, .int_value = value};
    }
    params->push_back(std::move(param));
    slots.push_back(absl::StrCat("?", params->size()));
  }
  where->push_back(absl::StrCat(column, " IN (", absl::StrJoin(slots, ", "), ")"));
}

// Appends `(substr(column, 1, length(?k)) = ?k OR ...)`: prefixes of ids, lower-cased.
void AddPrefixes(const std::string& column, const std::vector<std::string>& prefixes,
                 std::vector<std::string>* where, std::vector<SqlParam>* params) {
  if (prefixes.empty()) return;
  std::vector<std::string> terms;
  for (const std::string& prefix : prefixes) {
    params->push_back({.kind = SqlParam::Kind::kText, .text = absl::AsciiStrToLower(prefix)});
    terms.push_back(
        absl::StrCat("substr(", column, ", 1, length(?", params->size(), ")) = ?", params->size()));
  }
  where->push_back(absl::StrCat("(", absl::StrJoin(terms, " OR "), ")"));
}

}  // namespace

std::string RegularizerOrderSql(std::string_view column) {
  const std::string name(column);
  std::string sql = absl::StrCat("CASE ", name);
  for (const catalog::RegularizerSpec& spec : catalog::Regularizers()) {
    // Catalogue names are lower-case identifiers: nothing to quote.
    absl::StrAppend(&sql, " WHEN '", std::string(spec.name), "' THEN ",
                    catalog::RegularizerOrder(spec.name));
  }
  absl::StrAppend(&sql, " ELSE ", catalog::Regularizers().size(), " END, ", name);
  return sql;
}

absl::StatusOr<std::map<std::string, double>> RegularizerParameters(
    const std::string& regularizer, const std::string& canonical_json) {
  std::map<std::string, double> parameters;
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(regularizer);
  if (spec == nullptr) return parameters;
  bool others = false;
  for (const catalog::ParameterSpec& p : spec->parameters) {
    others = others || (p.name != "lambda" && p.name != "zeta");
  }
  if (!others) return parameters;
  const nlohmann::json config = nlohmann::json::parse(canonical_json, nullptr,
                                                      /*allow_exceptions=*/false);
  for (const catalog::ParameterSpec& p : spec->parameters) {
    if (p.name == "lambda" || p.name == "zeta") continue;
    const std::string name(p.name);
    if (!config.is_object() || !config.contains(name) || !config[name].is_number()) {
      return absl::InternalError(absl::StrCat("a ", regularizer, " trial's configuration has no ",
                                              name, ": ", canonical_json.substr(0, 200)));
    }
    parameters[name] = config[name].get<double>();
  }
  return parameters;
}

namespace {

constexpr char kTrialColumns[] = R"sql(
    t.id, t.canonical_json, t.model, t.task, t.regularizer, t.lambda, t.zeta, t.batch_size,
    t.epochs, t.seed, t.learning_rate, t.ranks, t.status, t.attempts, t.worker_id, t.created_at,
    t.started_at, t.finished_at, t.error)sql";

// Baseline first (the column every other regularizer is compared with), then the catalogue's
// order.
std::string TrialOrder() {
  return absl::StrCat("t.model, t.task, ", RegularizerOrderSql("t.regularizer"),
                      ", t.lambda, t.zeta, t.learning_rate, t.batch_size, t.epochs, t.seed, t.id");
}

absl::StatusOr<TrialRecord> ReadTrial(const Statement& row) {
  TrialRecord trial{.id = row.ColumnText(0),
                    .canonical_json = row.ColumnText(1),
                    .model = row.ColumnText(2),
                    .task = row.ColumnText(3)};
  const std::optional<TrialStatus> status = ParseTrialStatus(row.ColumnText(12));
  // The schema's CHECK constraint admits only the statuses this parser knows. A regularizer is
  // shown as stored: see Note [Regularizer names are the catalogue's] in schema.cc.
  if (!status) {
    return absl::InternalError(
        absl::StrCat("trial ", trial.id, ": unknown status '", row.ColumnText(12), "'"));
  }
  trial.regularizer = row.ColumnText(4);
  ISTAR_ASSIGN_OR_RETURN(trial.parameters,
                         RegularizerParameters(trial.regularizer, trial.canonical_json));
  trial.lambda = row.ColumnDouble(5);
  trial.zeta = row.ColumnDouble(6);
  trial.batch_size = row.ColumnInt(7);
  trial.epochs = row.ColumnInt(8);
  trial.seed = row.ColumnInt(9);
  trial.learning_rate = row.ColumnDouble(10);
  trial.ranks = row.ColumnInt(11);
  trial.status = *status;
  trial.attempts = row.ColumnInt(13);
  trial.worker_id = row.ColumnOptionalText(14);
  trial.created_at = ToTimestamp(row.ColumnInt(15));
  trial.started_at = ToTimestamp(row.ColumnOptionalInt(16));
  trial.finished_at = ToTimestamp(row.ColumnOptionalInt(17));
  trial.error = row.ColumnOptionalText(18);
  return trial;
}

absl::Status AddTrialConditions(Database& db, const TrialFilter& filter,
                                std::vector<std::string>* where, std::vector<SqlParam>* params) {
  ISTAR_RETURN_IF_ERROR(AddSweepCondition(db, filter.sweeps, where, params));
  AddPrefixes("t.id", filter.trial_ids, where, params);
  std::vector<std::string> statuses;
  for (const TrialStatus s : filter.statuses) statuses.emplace_back(TrialStatusName(s));
  AddIn("t.status", statuses, where, params);
  AddIn("t.model", filter.models, where, params);
  AddIn("t.task", filter.tasks, where, params);
  AddIn("t.regularizer", filter.regularizers, where, params);
  AddIn("t.lambda", filter.lambdas, where, params);
  AddIn("t.zeta", filter.zetas, where, params);
  AddIn("t.learning_rate", filter.learning_rates, where, params);
  AddIn("t.batch_size", filter.batch_sizes, where, params);
  AddIn("t.epochs", filter.epochs, where, params);
  AddIn("t.seed", filter.seeds, where, params);
  return absl::OkStatus();
}

std::string WhereClause(const std::vector<std::string>& where) {
  return where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND "));
}

}  // namespace

void BindParams(Statement& statement, const std::vector<SqlParam>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    switch (params[i].kind) {
      case SqlParam::Kind::kInt:
        statement.BindInt(index, params[i].int_value);
        break;
      case SqlParam::Kind::kDouble:
        statement.BindDouble(index, params[i].double_value);
        break;
      case SqlParam::Kind::kText:
        statement.BindText(index, params[i].text);
        break;
    }
  }
}

absl::Status AddSweepCondition(Database& db, const std::vector<std::string>& sweeps,
                               std::vector<std::string>* where, std::vector<SqlParam>* params) {
  if (sweeps.empty()) return absl::OkStatus();
  std::vector<std::string> terms;
  for (const std::string& sweep : sweeps) {
    if (sweep.empty()) return absl::InvalidArgumentError("an empty sweep name or id");
    ISTAR_ASSIGN_OR_RETURN(CachedStatement count, db.Cached(R"sql(
        SELECT count(*) FROM sweeps WHERE name = ?1 OR substr(id, 1, length(?1)) = ?1)sql"));
    count->BindText(1, sweep);
    ISTAR_ASSIGN_OR_RETURN(const bool row, count->Step());
    if (!row || count->ColumnInt(0) == 0) {
      return absl::NotFoundError(
          absl::StrCat(db.path(), ": no sweep is named '", sweep, "' or has an id starting so"));
    }
    params->push_back({.kind = SqlParam::Kind::kText, .text = sweep});
    const size_t k = params->size();
    terms.push_back(absl::StrCat("s.name = ?", k, " OR substr(s.id, 1, length(?", k, ")) = ?", k));
  }
  where->push_back(absl::StrCat(
      "EXISTS (SELECT 1 FROM sweep_trials AS st JOIN sweeps AS s ON s.id = st.sweep_id "
      "WHERE st.trial_id = t.id AND (",
      absl::StrJoin(terms, " OR "), "))"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrialRecord>> ListTrials(Database& db, const TrialFilter& filter) {
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  std::vector<std::string> where;
  std::vector<SqlParam> params;
  ISTAR_RETURN_IF_ERROR(AddTrialConditions(db, filter, &where, &params));

  ISTAR_ASSIGN_OR_RETURN(Statement select,
                         db.Prepare(absl::StrCat("SELECT ", kTrialColumns, " FROM trials AS t",
                                                 WhereClause(where), " ORDER BY ", TrialOrder())));
  BindParams(select, params);
  std::vector<TrialRecord> trials;
  std::map<std::string, size_t> index;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    ISTAR_ASSIGN_OR_RETURN(TrialRecord trial, ReadTrial(select));
    index[trial.id] = trials.size();
    trials.push_back(std::move(trial));
  }

  ISTAR_ASSIGN_OR_RETURN(
      Statement results,
      db.Prepare(absl::StrCat("SELECT f.trial_id, f.split, f.name, f.value FROM final_results AS f "
                              "JOIN trials AS t ON t.id = f.trial_id",
                              WhereClause(where), " ORDER BY f.trial_id, f.split, f.name")));
  BindParams(results, params);
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, results.Step());
    if (!row) break;
    const auto it = index.find(results.ColumnText(0));
    if (it == index.end()) continue;
    trials[it->second].final_results.push_back(
        {results.ColumnText(1), results.ColumnText(2), results.ColumnDouble(3)});
  }
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return trials;
}

absl::StatusOr<std::string> ResolveTrialId(Database& db, const std::string& prefix) {
  const std::string lower = absl::AsciiStrToLower(prefix);
  if (lower.empty() || lower.size() > 64 ||
      !std::all_of(lower.begin(), lower.end(), [](char c) { return std::isxdigit(c) != 0; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", prefix, "' is not a trial id or id prefix (1 to 64 hex digits)"));
  }
  // Ids are lower-case hex, so those starting with `lower` lie in [lower, lower + "g"): a range
  // scan of the primary key.
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
      SELECT id FROM trials WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 3)sql"));
  select->BindText(1, lower);
  std::vector<std::string> ids;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    ids.push_back(select->ColumnText(0));
  }
  if (ids.empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no trial id starts with '", prefix, "'"));
  }
  if (ids.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trial id prefix '", prefix, "' is ambiguous: it matches ", absl::StrJoin(ids, ", "),
        ids.size() > 2 ? ", ..." : "", "; give more digits"));
  }
  return ids.front();
}

// Fills progress.by_status with the counts of the sweep's trials per status.
absl::Status CountByStatus(Database& db, SweepProgress& progress) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement counts, db.Cached(R"sql(
      SELECT t.status, count(*) FROM sweep_trials AS st JOIN trials AS t ON t.id = st.trial_id
      WHERE st.sweep_id = ?1 GROUP BY t.status)sql"));
  counts->BindText(1, progress.id);
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool more, counts->Step());
    if (!more) break;
    const std::optional<TrialStatus> status = ParseTrialStatus(counts->ColumnText(0));
    // The schema's CHECK admits exactly the names ParseTrialStatus knows.
    if (!status) return absl::InternalError(absl::StrCat("unknown status ", counts->ColumnText(0)));
    progress.by_status[*status] = counts->ColumnInt(1);
  }
  return absl::OkStatus();
}

absl::StatusOr<SweepProgress> GetSweep(Database& db, const std::string& sweep) {
  if (sweep.empty()) return absl::InvalidArgumentError("an empty sweep name or id");
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  // A name first (its latest submission), else an id prefix, which must then be unambiguous.
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
      SELECT id, name, submitted_at, trial_count FROM sweeps
      WHERE name = ?1 OR substr(id, 1, length(?1)) = ?1
      ORDER BY name = ?1 DESC, submitted_at DESC, id LIMIT 2)sql"));
  select->BindText(1, sweep);
  ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat(db.path(), ": no sweep is named '", sweep, "' or has an id starting so"));
  }
  SweepProgress progress{.id = select->ColumnText(0),
                         .name = select->ColumnText(1),
                         .submitted_at = ToTimestamp(select->ColumnInt(2)),
                         .trial_count = select->ColumnInt(3)};
  ISTAR_ASSIGN_OR_RETURN(const bool second, select->Step());
  if (progress.name != sweep && second) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep id prefix '", sweep, "' is ambiguous; give more digits"));
  }
  ISTAR_RETURN_IF_ERROR(CountByStatus(db, progress));
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return progress;
}

absl::StatusOr<std::vector<SweepProgress>> ListSweeps(Database& db) {
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
      SELECT id, name, submitted_at, trial_count FROM sweeps ORDER BY submitted_at, id)sql"));
  std::vector<SweepProgress> sweeps;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    sweeps.push_back({.id = select->ColumnText(0),
                      .name = select->ColumnText(1),
                      .submitted_at = ToTimestamp(select->ColumnInt(2)),
                      .trial_count = select->ColumnInt(3)});
  }
  for (SweepProgress& progress : sweeps) ISTAR_RETURN_IF_ERROR(CountByStatus(db, progress));
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return sweeps;
}

absl::StatusOr<int64_t> DataVersion(Database& db) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement pragma, db.Cached("PRAGMA data_version"));
  ISTAR_ASSIGN_OR_RETURN(const bool row, pragma->Step());
  if (!row) return absl::InternalError(absl::StrCat(db.path(), ": PRAGMA data_version: no row"));
  return pragma->ColumnInt(0);
}

absl::StatusOr<Trajectories> ExportTrajectories(Database& db, const std::string& trial_id) {
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  {
    ISTAR_ASSIGN_OR_RETURN(CachedStatement exists, db.Cached("SELECT 1 FROM trials WHERE id = ?1"));
    exists->BindText(1, trial_id);
    ISTAR_ASSIGN_OR_RETURN(const bool row, exists->Step());
    if (!row) {
      return absl::NotFoundError(absl::StrCat(db.path(), ": no trial with id '", trial_id, "'"));
    }
  }
  Trajectories out;
  ISTAR_ASSIGN_OR_RETURN(CachedStatement metrics, db.Cached(R"sql(
      SELECT step, epoch, split, name, value FROM metrics WHERE trial_id = ?1
      ORDER BY step, split, name)sql"));
  metrics->BindText(1, trial_id);
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, metrics->Step());
    if (!row) break;
    out.metrics.push_back({trial_id, metrics->ColumnInt(0), metrics->ColumnDouble(1),
                           metrics->ColumnText(2), metrics->ColumnText(3),
                           metrics->ColumnDouble(4)});
  }
  ISTAR_ASSIGN_OR_RETURN(CachedStatement isotropy, db.Cached(R"sql(
      SELECT step, epoch, layer, isoscore_star, isoscore, avg_cosine, twonn FROM isotropy
      WHERE trial_id = ?1 ORDER BY step, layer)sql"));
  isotropy->BindText(1, trial_id);
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, isotropy->Step());
    if (!row) break;
    out.isotropy.push_back({trial_id, isotropy->ColumnInt(0), isotropy->ColumnDouble(1),
                            isotropy->ColumnInt(2), isotropy->ColumnDouble(3),
                            isotropy->ColumnDouble(4), isotropy->ColumnDouble(5),
                            isotropy->ColumnOptionalDouble(6)});
  }
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return out;
}

absl::StatusOr<std::vector<IsotropyRow>> ExportLayer(Database& db, int64_t layer) {
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  // The primary key (trial_id, step, layer) serves the order; the layer is filtered on the way.
  ISTAR_ASSIGN_OR_RETURN(CachedStatement rows, db.Cached(R"sql(
      SELECT trial_id, step, epoch, isoscore_star, isoscore, avg_cosine, twonn FROM isotropy
      WHERE layer = ?1 ORDER BY trial_id, step)sql"));
  rows->BindInt(1, layer);
  std::vector<IsotropyRow> out;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, rows->Step());
    if (!row) break;
    out.push_back({rows->ColumnText(0), rows->ColumnInt(1), rows->ColumnDouble(2), layer,
                   rows->ColumnDouble(3), rows->ColumnDouble(4), rows->ColumnDouble(5),
                   rows->ColumnOptionalDouble(6)});
  }
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return out;
}

}  // namespace istar::db::internal
