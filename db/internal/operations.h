// File: db/internal/operations.h
// -----------------------------------------------------------------------------
// The SQL behind each Store method, as functions of one connection. The Store (db/store.cc)
// owns the connection, holds its mutex around these calls, checks the open mode and reads the
// clock; these functions only talk to SQLite. Grouped by file:
//   submit.cc   SubmitSweep and the trial state transitions;
//   results.cc  the metric, isotropy and final-result upserts;
//   leases.cc   the coordinator's workers, leases, expiry and cancellation;
//   queries.cc  the trial listing, sweep progress, trajectories and id prefixes;
//   user_query.cc  the user's read-only SQL;
//   compare.cc  the comparison table.
#ifndef ISTAR_DB_INTERNAL_OPERATIONS_H_
#define ISTAR_DB_INTERNAL_OPERATIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/internal/sqlite.h"
#include "db/records.h"
#include "sweeps/sweep.h"

namespace istar::db::internal {

// ORDER BY terms that put regularizer names (of `column`) in the catalogue's order, unknown
// names last (queries.cc).
std::string RegularizerOrderSql(std::string_view column);

// The parameters of `regularizer` other than lambda and zeta (which have columns), read from a
// trial's canonical configuration, where each is a top-level key (docs/sweep-format.md); empty
// for a regularizer the catalogue does not know. Internal for a configuration that lacks one
// (queries.cc).
[[nodiscard]] absl::StatusOr<std::map<std::string, double>> RegularizerParameters(
    const std::string& regularizer, const std::string& canonical_json);

// submit.cc
// The statement inserting one trial of a sweep (if new) at the end of the queue; exposed, like
// kNextPendingSql, so that tests/db/leases_test.cc can check its query plan (Note [Queue order]).
extern const char kInsertTrialSql[];
[[nodiscard]] absl::StatusOr<SubmitResult> SubmitSweep(Database& db, const sweeps::SweepSpec& sweep,
                                                       Timestamp now);
[[nodiscard]] absl::StatusOr<int64_t> MarkTrialRunning(Database& db, const std::string& trial_id,
                                                       Timestamp now);
// Ends the running attempt of `trial_id` as `status` (kDone or kFailed) with `error`.
[[nodiscard]] absl::Status FinishTrial(Database& db, const std::string& trial_id,
                                       TrialStatus status, const std::optional<std::string>& error,
                                       Timestamp now);

// results.cc
[[nodiscard]] absl::Status WriteMetrics(Database& db, std::span<const MetricRow> rows);
[[nodiscard]] absl::Status WriteIsotropy(Database& db, std::span<const IsotropyRow> rows);
[[nodiscard]] absl::Status WriteFinalResults(Database& db, const std::string& trial_id,
                                             std::span<const FinalResult> results);
// The halves of the writes above: Check* validates rows as they do (InvalidArgument), Upsert*
// writes checked rows inside the caller's transaction (for the lease operations).
[[nodiscard]] absl::Status CheckMetrics(std::span<const MetricRow> rows);
[[nodiscard]] absl::Status CheckIsotropyRows(std::span<const IsotropyRow> rows);
[[nodiscard]] absl::Status CheckFinalResults(const std::string& trial_id,
                                             std::span<const FinalResult> results);
[[nodiscard]] absl::Status UpsertMetrics(Database& db, std::span<const MetricRow> rows);
[[nodiscard]] absl::Status UpsertIsotropy(Database& db, std::span<const IsotropyRow> rows);
[[nodiscard]] absl::Status UpsertFinalResults(Database& db, const std::string& trial_id,
                                              std::span<const FinalResult> results);

// leases.cc
// The query choosing the next pending trial for a group of ?1 ranks (Note [Queue order]).
extern const char kNextPendingSql[];
[[nodiscard]] absl::StatusOr<WorkerRecord> RegisterWorker(Database& db,
                                                          const std::string& worker_id,
                                                          const std::string& host, Timestamp now);
[[nodiscard]] absl::StatusOr<std::vector<WorkerRecord>> ListWorkers(Database& db);
[[nodiscard]] absl::Status ReleaseQuarantine(Database& db, const std::string& worker_id);
[[nodiscard]] absl::StatusOr<std::optional<Lease>> LeaseTrial(
    Database& db, const std::string& worker_id, int64_t ranks, const LeasePolicy& policy,
    Timestamp now, const std::string& lease_id);
[[nodiscard]] absl::StatusOr<std::string> NewLeaseId();
[[nodiscard]] absl::StatusOr<LeaseState> Heartbeat(Database& db, const std::string& trial_id,
                                                   int64_t fencing_token, const LeasePolicy& policy,
                                                   Timestamp now);
[[nodiscard]] absl::Status WriteLeasedResults(Database& db, const std::string& trial_id,
                                              int64_t fencing_token,
                                              std::span<const MetricRow> metrics,
                                              std::span<const IsotropyRow> isotropy);
[[nodiscard]] absl::Status CompleteLeasedTrial(Database& db, const std::string& trial_id,
                                               int64_t fencing_token,
                                               std::span<const FinalResult> results, Timestamp now);
[[nodiscard]] absl::StatusOr<TrialStatus> FailLeasedTrial(Database& db, const std::string& trial_id,
                                                          int64_t fencing_token,
                                                          const LeaseFailure& failure,
                                                          const LeasePolicy& policy, Timestamp now);
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ExpireLeases(Database& db,
                                                                    const LeasePolicy& policy,
                                                                    Timestamp now);
[[nodiscard]] absl::StatusOr<int64_t> GraceLeasesAfterRestart(Database& db,
                                                              const LeasePolicy& policy,
                                                              Timestamp now);
[[nodiscard]] absl::StatusOr<int64_t> CancelSweep(Database& db, const std::string& sweep,
                                                  Timestamp now);

// queries.cc
[[nodiscard]] absl::StatusOr<std::vector<TrialRecord>> ListTrials(Database& db,
                                                                  const TrialFilter& filter);
[[nodiscard]] absl::StatusOr<std::string> ResolveTrialId(Database& db, const std::string& prefix);
[[nodiscard]] absl::StatusOr<SweepProgress> GetSweep(Database& db, const std::string& sweep);
[[nodiscard]] absl::StatusOr<std::vector<SweepProgress>> ListSweeps(Database& db);
[[nodiscard]] absl::StatusOr<int64_t> DataVersion(Database& db);
[[nodiscard]] absl::StatusOr<Trajectories> ExportTrajectories(Database& db,
                                                              const std::string& trial_id);
[[nodiscard]] absl::StatusOr<std::vector<IsotropyRow>> ExportLayer(Database& db, int64_t layer);
// user_query.cc
[[nodiscard]] absl::StatusOr<QueryResult> RunReadOnlyQuery(Database& db, const std::string& sql);

// The SQL condition (on `trials AS t`) that keeps the trials of the sweeps named by `sweeps`
// (names, ids or id prefixes), appended to `where` with its parameters numbered from
// `params->size() + 1`; NotFound if a value matches no sweep. Shared by ListTrials and Compare.
struct SqlParam {
  enum class Kind { kInt, kDouble, kText } kind;
  int64_t int_value = 0;
  double double_value = 0.0;
  std::string text;
};
[[nodiscard]] absl::Status AddSweepCondition(Database& db, const std::vector<std::string>& sweeps,
                                             std::vector<std::string>* where,
                                             std::vector<SqlParam>* params);
void BindParams(Statement& statement, const std::vector<SqlParam>& params);

// compare.cc
[[nodiscard]] absl::StatusOr<ComparisonTable> Compare(Database& db, const CompareOptions& options);

}  // namespace istar::db::internal

#endif  // ISTAR_DB_INTERNAL_OPERATIONS_H_
