// The metric, isotropy and final-result upserts: one transaction per batch, one cached statement
// per table, so a batch costs one lock and one WAL commit however many rows it holds. The Check*
// and Upsert* halves are also used by the lease operations (leases.cc), which run them inside
// their own transaction after checking the fencing token.
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "db/internal/operations.h"

namespace istar::db::internal {
namespace {

// The message of a failed row names it; a missing trial is the one error a caller can act on
// row by row (NotFound), so it says so in plain words.
absl::Status RowError(const std::string& table, size_t index, const std::string& trial_id,
                      const absl::Status& status) {
  if (status.code() == absl::StatusCode::kNotFound) {  // a foreign key: see SqliteError
    return absl::NotFoundError(absl::StrCat(table, " row ", index, ": trial '", trial_id,
                                            "' is not in the store (", status.message(), ")"));
  }
  return absl::Status(status.code(), absl::StrCat(table, " row ", index, " (trial ", trial_id,
                                                  "): ", status.message()));
}

absl::Status Invalid(const std::string& table, size_t index, const std::string& trial_id,
                     const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(table, " row ", index, " (trial ", trial_id, "): ", what));
}

absl::Status CheckMetric(const MetricRow& row, size_t index) {
  if (row.split.empty() || row.name.empty()) {
    return Invalid("metrics", index, row.trial_id, "split and name must not be empty");
  }
  if (row.step < 0) return Invalid("metrics", index, row.trial_id, "step must be >= 0");
  if (!std::isfinite(row.value) || !std::isfinite(row.epoch)) {
    return Invalid("metrics", index, row.trial_id,
                   absl::StrCat(row.split, "/", row.name, " = ", row.value, " at epoch ", row.epoch,
                                " is not finite; report a diverged trial as failed"));
  }
  return absl::OkStatus();
}

absl::Status CheckIsotropy(const IsotropyRow& row, size_t index) {
  if (row.step < 0) return Invalid("isotropy", index, row.trial_id, "step must be >= 0");
  if (row.layer < IsotropyRow::kUnionLayer) {
    return Invalid("isotropy", index, row.trial_id,
                   absl::StrCat("layer ", row.layer, " is below -1 (the union of layers)"));
  }
  if (!std::isfinite(row.epoch) || !std::isfinite(row.isoscore_star) ||
      !std::isfinite(row.isoscore) || !std::isfinite(row.avg_cosine) ||
      (row.twonn && !std::isfinite(*row.twonn))) {
    return Invalid("isotropy", index, row.trial_id, "a measure or the epoch is not finite");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMetrics(std::span<const MetricRow> rows) {
  for (size_t i = 0; i < rows.size(); ++i) ISTAR_RETURN_IF_ERROR(CheckMetric(rows[i], i));
  return absl::OkStatus();
}

absl::Status UpsertMetrics(Database& db, std::span<const MetricRow> rows) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement upsert, db.Cached(R"sql(
      INSERT INTO metrics (trial_id, step, epoch, split, name, value)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6)
      ON CONFLICT (trial_id, step, split, name)
      DO UPDATE SET epoch = excluded.epoch, value = excluded.value)sql"));
  for (size_t i = 0; i < rows.size(); ++i) {
    const MetricRow& row = rows[i];
    upsert->BindText(1, row.trial_id);
    upsert->BindInt(2, row.step);
    upsert->BindDouble(3, row.epoch);
    upsert->BindText(4, row.split);
    upsert->BindText(5, row.name);
    upsert->BindDouble(6, row.value);
    if (absl::Status status = upsert->Run(); !status.ok()) {
      return RowError("metrics", i, row.trial_id, status);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteMetrics(Database& db, std::span<const MetricRow> rows) {
  ISTAR_RETURN_IF_ERROR(CheckMetrics(rows));
  if (rows.empty()) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_RETURN_IF_ERROR(UpsertMetrics(db, rows));
  return transaction.Commit();
}

absl::Status CheckIsotropyRows(std::span<const IsotropyRow> rows) {
  for (size_t i = 0; i < rows.size(); ++i) ISTAR_RETURN_IF_ERROR(CheckIsotropy(rows[i], i));
  return absl::OkStatus();
}

absl::Status UpsertIsotropy(Database& db, std::span<const IsotropyRow> rows) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement upsert, db.Cached(R"sql(
      INSERT INTO isotropy (trial_id, step, epoch, layer, isoscore_star, isoscore, avg_cosine,
                            twonn)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT (trial_id, step, layer)
      DO UPDATE SET epoch = excluded.epoch, isoscore_star = excluded.isoscore_star,
                    isoscore = excluded.isoscore, avg_cosine = excluded.avg_cosine,
                    twonn = excluded.twonn)sql"));
  for (size_t i = 0; i < rows.size(); ++i) {
    const IsotropyRow& row = rows[i];
    upsert->BindText(1, row.trial_id);
    upsert->BindInt(2, row.step);
    upsert->BindDouble(3, row.epoch);
    upsert->BindInt(4, row.layer);
    upsert->BindDouble(5, row.isoscore_star);
    upsert->BindDouble(6, row.isoscore);
    upsert->BindDouble(7, row.avg_cosine);
    upsert->BindOptionalDouble(8, row.twonn);
    if (absl::Status status = upsert->Run(); !status.ok()) {
      return RowError("isotropy", i, row.trial_id, status);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteIsotropy(Database& db, std::span<const IsotropyRow> rows) {
  ISTAR_RETURN_IF_ERROR(CheckIsotropyRows(rows));
  if (rows.empty()) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_RETURN_IF_ERROR(UpsertIsotropy(db, rows));
  return transaction.Commit();
}

absl::Status CheckFinalResults(const std::string& trial_id, std::span<const FinalResult> results) {
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].split.empty() || results[i].name.empty()) {
      return Invalid("final_results", i, trial_id, "split and name must not be empty");
    }
    if (!std::isfinite(results[i].value)) {
      return Invalid("final_results", i, trial_id,
                     absl::StrCat(results[i].split, "/", results[i].name, " is not finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status UpsertFinalResults(Database& db, const std::string& trial_id,
                                std::span<const FinalResult> results) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement upsert, db.Cached(R"sql(
      INSERT INTO final_results (trial_id, split, name, value) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (trial_id, split, name) DO UPDATE SET value = excluded.value)sql"));
  for (size_t i = 0; i < results.size(); ++i) {
    upsert->BindText(1, trial_id);
    upsert->BindText(2, results[i].split);
    upsert->BindText(3, results[i].name);
    upsert->BindDouble(4, results[i].value);
    if (absl::Status status = upsert->Run(); !status.ok()) {
      return RowError("final_results", i, trial_id, status);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteFinalResults(Database& db, const std::string& trial_id,
                               std::span<const FinalResult> results) {
  ISTAR_RETURN_IF_ERROR(CheckFinalResults(trial_id, results));
  if (results.empty()) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_RETURN_IF_ERROR(UpsertFinalResults(db, trial_id, results));
  return transaction.Commit();
}

}  // namespace istar::db::internal
