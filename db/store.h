// File: db/store.h
// -----------------------------------------------------------------------------
// The results store: one SQLite file holding sweeps, their trials and each trial's state,
// attempts, metric and isotropy trajectories and final results. This module is the only code in
// istar that writes SQL; everything else calls the functions below. The schema, its migrations
// and its conventions are documented in docs/database.md (a file format page: read it before
// querying the file directly with `istar sql`).
//
// A store is opened read-write (creating the file and migrating its schema to this binary's
// version) or read-only (never creating, never migrating: the mode of every read command). The
// file is in WAL mode, so readers never wait for the writer and the writer never waits for
// readers; two writers queue on the busy timeout, and a write lock still held by another
// process after it is Unavailable (retry later).
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store, db::Store::Open("results.db"));
//   ISTAR_ASSIGN_OR_RETURN(db::SubmitResult submitted, store->SubmitSweep(sweep));
//   ISTAR_RETURN_IF_ERROR(store->WriteMetrics(rows));
//   ISTAR_ASSIGN_OR_RETURN(db::ComparisonTable table, store->Compare({.metric = "accuracy"}));
//
// Thread safety: a Store is thread-safe; its methods are serialized on one connection (one
// mutex). For parallel reads open one Store per thread: several Stores on one file, in one
// process or many, are how SQLite is meant to be shared.
#ifndef ISTAR_DB_STORE_H_
#define ISTAR_DB_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "db/records.h"
#include "sweeps/sweep.h"

namespace istar::db {

namespace internal {
class Database;
}  // namespace internal

enum class OpenMode {
  kReadWrite,  // create the file if missing, migrate its schema, allow writes
  kReadOnly,   // SQLITE_OPEN_READONLY: the file must exist at this binary's schema version
};

struct StoreOptions {
  OpenMode mode = OpenMode::kReadWrite;
  // How long a statement waits for another connection's lock before giving up (SQLite's busy
  // timeout, set on every connection). Writes that still find the lock taken return Unavailable.
  std::chrono::milliseconds busy_timeout{5000};
  // The time written into *_at columns and compared with lease expiries; null = SystemClock().
  // Must outlive the store. A seam for tests (FakeClock).
  const Clock* clock = nullptr;
};

// The schema version this binary creates, migrates to, and requires of read-only opens.
int CurrentSchemaVersion();

// Creates the database `path` at schema `version` (1..CurrentSchemaVersion()) by applying only
// the first `version` migrations: for tests of migrations and for reproducing files of older
// releases. A later read-write Open migrates it to the current version. InvalidArgument for a
// version out of range; otherwise the errors of Open.
[[nodiscard]] absl::Status CreateStoreAtVersion(const std::string& path, int version);

// A fresh lease id: 32 hex digits of 16 random bytes (OpenSSL's RAND_bytes). A worker group
// proposes one with each lease request (Store::LeaseTrial's `lease_id`). Internal if OpenSSL
// has no randomness to give.
[[nodiscard]] absl::StatusOr<std::string> NewLeaseId();

class Store {
 public:
  // Opens the store at `path`.
  // Read-write: creates the file if it is missing, switches it to WAL mode, turns foreign keys on
  // and applies every migration it lacks (each in its own transaction).
  // Read-only: opens with SQLITE_OPEN_READONLY; never creates nor changes the file.
  // Returns:
  //   NotFound            read-only and `path` does not exist, or read-write and its directory
  //                       does not exist (SQLITE_CANTOPEN);
  //   InvalidArgument     the file is not an SQLite database, or options are invalid;
  //   FailedPrecondition  the file is another program's SQLite database, its schema is newer
  //                       than this binary's, or (read-only) older: open it read-write once;
  //   Unavailable         another process held the write lock past the busy timeout;
  //   Internal            any other SQLite failure (the message carries SQLite's text);
  //   the store otherwise, which owns the connection until it is destroyed.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& path, const StoreOptions& options = {});

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  const std::string& path() const { return path_; }
  bool read_only() const { return options_.mode == OpenMode::kReadOnly; }

  // ---- Writes. Each is one transaction; on a read-only store each returns FailedPrecondition.
  // Every error can also be Unavailable (the write lock was busy past the timeout: retry) or
  // Internal (SQLite failed; the message has its text, the SQL and our file:line).

  // Stores `sweep`: its row in `sweeps` (id: see Note [Sweep ids] in docs/database.md), each of
  // its trials not yet stored as a new pending trial, and a link from the sweep to every trial.
  // A trial already stored (by this sweep or another) keeps its status, attempts and results:
  // resubmitting never runs a finished trial again. Resubmitting the same sweep changes nothing.
  // InvalidArgument if the sweep has no name or a trial's id is not 64 lower-case hex digits or
  // its fields break the schema (batch_size or epochs < 1).
  [[nodiscard]] absl::StatusOr<SubmitResult> SubmitSweep(const sweeps::SweepSpec& sweep);

  // Upserts metric rows: a row whose (trial_id, step, split, name) is stored replaces it, so a
  // batch sent twice (a retried stream) stores each row once. All or none are written.
  // InvalidArgument if a row has an empty split or name, a negative step, or a non-finite value
  // or epoch (report a diverged trial with MarkTrialFailed instead); NotFound if a row's trial
  // is not stored. Both messages name the row's index and trial.
  [[nodiscard]] absl::Status WriteMetrics(std::span<const MetricRow> rows);

  // As WriteMetrics for isotropy rows, keyed by (trial_id, step, layer). InvalidArgument also for
  // a layer < -1 (IsotropyRow::kUnionLayer) or a non-finite measure.
  [[nodiscard]] absl::Status WriteIsotropy(std::span<const IsotropyRow> rows);

  // Upserts `trial_id`'s final results, keyed by (split, name). As WriteMetrics for errors.
  [[nodiscard]] absl::Status WriteFinalResults(const std::string& trial_id,
                                               std::span<const FinalResult> results);

  // The standalone trainer's transitions (docs/database.md, "Trial states"). The coordinator's
  // lease operations are below them.
  //
  // Starts a new attempt of a pending, failed or running trial (a running one was left by a run
  // that died; its attempt becomes "abandoned") and returns the attempt number (1 for the first).
  // NotFound for an unknown trial; FailedPrecondition if it is done, cancelled, or leased (a
  // worker group owns it until its lease ends).
  [[nodiscard]] absl::StatusOr<int64_t> MarkTrialRunning(const std::string& trial_id);
  // running -> done. NotFound for an unknown trial; FailedPrecondition if it is not running.
  [[nodiscard]] absl::Status MarkTrialDone(const std::string& trial_id);
  // running -> failed, keeping `error` (e.g. "diverged: loss is NaN at step 812"). As MarkTrialDone
  // for errors.
  [[nodiscard]] absl::Status MarkTrialFailed(const std::string& trial_id, const std::string& error);

  // ---- The coordinator's lease operations (docs/database.md, "Leases"). Each is one
  // transaction reading the clock once. Reports checked against a fencing token return
  // FailedPrecondition when the token is not the trial's current lease (it expired and the trial
  // was leased again, or it ended), and then change nothing; NotFound for an unknown trial.
  // Operations taking a LeasePolicy return InvalidArgument for an invalid one (ttl <= 0,
  // max_attempts < 1, quarantine_after < 0). Every message names the trial (its first 12 hex
  // digits) or the worker.

  // Records worker group `worker_id` (host for display), or refreshes last_seen_at (and host) if
  // it is known; a quarantined worker stays quarantined. InvalidArgument for an empty id.
  [[nodiscard]] absl::StatusOr<WorkerRecord> RegisterWorker(const std::string& worker_id,
                                                            const std::string& host);
  // The workers, ordered by id.
  [[nodiscard]] absl::StatusOr<std::vector<WorkerRecord>> ListWorkers();
  // Clears a worker's quarantine and failure count. NotFound for an unknown worker.
  [[nodiscard]] absl::Status ReleaseQuarantine(const std::string& worker_id);

  // Leases the oldest pending trial (by created_at, then sweep position) whose ranks equal
  // `ranks` to `worker_id`: pending -> leased, a new attempt (attempts + 1, an attempts row with
  // outcome running), a fresh lease id, fencing_token + 1, expiry now + policy.ttl. Expired
  // leases are expired first (ExpireLeases), and stay expired even when this call is refused.
  // nullopt when nothing is pending for this size. The check and the lease are one transaction:
  // two Stores (processes) never lease one trial twice. NotFound for an unregistered worker;
  // FailedPrecondition for a quarantined one; InvalidArgument for ranks < 1.
  //
  // `lease_id`, when not empty, is the id the worker proposes for the lease (NewLeaseId; the
  // same on every try of one request): if this worker still holds a lease of that id for
  // `ranks`, that lease is returned again, its expiry renewed, and nothing else changes (the
  // answer to an earlier try was lost); otherwise the new lease takes that id unless an earlier
  // attempt had it. InvalidArgument unless it is 32 lowercase hex digits. See Note [Lease ids a
  // group proposes] in db/internal/leases.cc.
  [[nodiscard]] absl::StatusOr<std::optional<Lease>> LeaseTrial(const std::string& worker_id,
                                                                int64_t ranks,
                                                                const LeasePolicy& policy,
                                                                const std::string& lease_id = "");

  // Extends the lease to now + policy.ttl and refreshes the worker's last_seen_at. kCancelled
  // (extending nothing) if the trial was cancelled while this lease held it.
  // FailedPrecondition for a stale token; NotFound for an unknown trial.
  [[nodiscard]] absl::StatusOr<LeaseState> Heartbeat(const std::string& trial_id,
                                                     int64_t fencing_token,
                                                     const LeasePolicy& policy);

  // WriteMetrics / WriteIsotropy for the holder of a lease: FailedPrecondition for a stale token
  // (nothing written), else the rows are upserted (a batch sent twice stores each row once).
  // InvalidArgument (nothing written) for a row of another trial or as WriteMetrics.
  [[nodiscard]] absl::Status WriteLeasedResults(const std::string& trial_id, int64_t fencing_token,
                                                std::span<const MetricRow> metrics,
                                                std::span<const IsotropyRow> isotropy);

  // leased -> done with `results` as its final results; the attempt's outcome done; the worker's
  // consecutive failures reset to 0. FailedPrecondition for a stale token.
  [[nodiscard]] absl::Status CompleteLeasedTrial(const std::string& trial_id, int64_t fencing_token,
                                                 std::span<const FinalResult> results);

  // Ends the lease without success: requeue -> pending, the attempt outcome "abandoned" and not
  // counted (attempts - 1); retryable with attempts < policy.max_attempts -> pending (outcome
  // failed); otherwise -> failed with failure.error. An infrastructure failure adds one to the
  // worker's consecutive failures and may quarantine it (policy.quarantine_after); any other
  // failure resets them. Returns the trial's new status. FailedPrecondition for a stale token.
  [[nodiscard]] absl::StatusOr<TrialStatus> FailLeasedTrial(const std::string& trial_id,
                                                            int64_t fencing_token,
                                                            const LeaseFailure& failure,
                                                            const LeasePolicy& policy);

  // Ends every lease whose expiry is at or before now: the attempt's outcome "expired"; the
  // trial back to pending, or failed ("lease expired on attempt k of k") when it has used
  // policy.max_attempts; each expiry counts as an infrastructure failure of its worker. Returns
  // the trials expired.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ExpireLeases(const LeasePolicy& policy);

  // A coordinator's start: every lease gets at least now + policy.ttl (Note [Grace after a
  // restart] in db/internal/leases.cc), since its holder could not heartbeat while nobody
  // served the file. Leases already running longer keep their expiry. Returns how many leases
  // were extended.
  [[nodiscard]] absl::StatusOr<int64_t> GraceLeasesAfterRestart(const LeasePolicy& policy);

  // Cancels every trial of sweep `sweep` (name, id or id prefix; every sweep it matches) that is
  // pending, leased or running: they become cancelled (a leased one's holder learns it at its
  // next heartbeat; its reports are then refused; a running attempt's outcome is cancelled). A
  // trial shared with another sweep is one trial: it is cancelled for both. Returns how many
  // were cancelled. NotFound for no such sweep.
  [[nodiscard]] absl::StatusOr<int64_t> CancelSweep(const std::string& sweep);

  // ---- Reads. They work in either mode and each sees one snapshot of the file.

  // The trials matching `filter`, ordered by model, task, regularizer (baseline, cosreg, istar),
  // lambda, zeta, learning rate, batch size, epochs, seed, id; each with its final results.
  // NotFound if a value of filter.sweeps matches no sweep.
  [[nodiscard]] absl::StatusOr<std::vector<TrialRecord>> ListTrials(const TrialFilter& filter = {});

  // The sweep named by `sweep` (name, id or id prefix; a name held by several sweeps means the
  // latest submitted) with its trials' counts by status. A name wins over an id prefix.
  // NotFound if none matches; InvalidArgument for an id prefix of several sweeps.
  [[nodiscard]] absl::StatusOr<SweepProgress> GetSweep(const std::string& sweep);

  // Every sweep with its trials' counts by status, in the order they were submitted.
  [[nodiscard]] absl::StatusOr<std::vector<SweepProgress>> ListSweeps();

  // SQLite's PRAGMA data_version: a number that changes whenever another connection (another
  // Store, another process) commits to the file, and only then. How a reader notices new rows
  // without reading them (`istar dashboard`); its value means nothing by itself.
  [[nodiscard]] absl::StatusOr<int64_t> DataVersion();

  // The trial with exactly this id. NotFound if there is none.
  [[nodiscard]] absl::StatusOr<TrialRecord> GetTrial(const std::string& trial_id);

  // The id of the one trial whose id starts with `prefix` (hex, any case). InvalidArgument if the
  // prefix is empty, not hex, or matches several trials; NotFound if it matches none.
  [[nodiscard]] absl::StatusOr<std::string> ResolveTrialId(const std::string& prefix);

  // `trial_id`'s metric rows ordered by (step, split, name) and isotropy rows ordered by
  // (step, layer). NotFound if the trial is not stored.
  [[nodiscard]] absl::StatusOr<Trajectories> ExportTrajectories(const std::string& trial_id);

  // The isotropy rows of `layer` (IsotropyRow::kUnionLayer: the union of layers) of every stored
  // trial, ordered by (trial_id, step), read in one snapshot: the trajectories of a whole
  // database for plots (`istar report`).
  [[nodiscard]] absl::StatusOr<std::vector<IsotropyRow>> ExportLayer(int64_t layer);

  // The comparison table of docs/database.md ("The comparison table"): rows (model, task),
  // columns the regularizers present; per cell the done and failed trials grouped by every
  // setting but the seed, the candidate group (at least options.min_seeds scored seeds) with the
  // best mean on options.selection_split, its scores on options.split, its failures, and its
  // difference from the baseline cell's chosen group with Welch and paired intervals. Groups
  // that show the same hyperparameters are listed in `collisions`. Rows without any score are
  // left out. InvalidArgument if options.confidence is not in (0, 1), options.split is empty,
  // options.min_seeds < 1, or no metric is given and a task has no primary metric; NotFound if a
  // sweep matches nothing; DataLoss for a trial whose canonical_json is not a JSON object.
  [[nodiscard]] absl::StatusOr<ComparisonTable> Compare(const CompareOptions& options = {});

  // Runs one SQL statement that only reads and returns rows (SELECT, WITH, read-only PRAGMA,
  // EXPLAIN) and returns all its rows. InvalidArgument for anything else (checked with
  // sqlite3_stmt_readonly before it runs; on a read-only store SQLite refuses writes too), for
  // several statements, and for an error in the SQL (the message is SQLite's).
  [[nodiscard]] absl::StatusOr<QueryResult> RunReadOnlyQuery(const std::string& sql);

 private:
  Store(std::string path, StoreOptions options, std::unique_ptr<internal::Database> db);
  Timestamp Now() const;
  absl::Status CheckWritable() const;

  const std::string path_;
  const StoreOptions options_;
  absl::Mutex mu_;
  const std::unique_ptr<internal::Database> db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace istar::db

#endif  // ISTAR_DB_STORE_H_
