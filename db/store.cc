#include "db/store.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "db/internal/operations.h"
#include "db/internal/schema.h"
#include "db/internal/sqlite.h"

namespace istar::db {
namespace {

using internal::Database;

// Note [One connection per Store]
// A Store owns one SQLite connection, opened SQLITE_OPEN_NOMUTEX, and serializes every method on
// its own mutex: one lock, taken once per call, instead of SQLite's per-call connection mutex
// plus ours. Parallelism comes from several Stores (connections) on one file: in WAL mode their
// reads run concurrently with each other and with the one writer, and writers queue on the busy
// timeout. A transaction never spans two method calls, so no lock is held between them.

// "path: message", unless the message already starts with the path.
absl::Status WithPath(const absl::Status& status, const std::string& path) {
  if (status.ok() || absl::StartsWith(status.message(), path)) return status;
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

// Switches the file to WAL and returns the journal mode SQLite reports. Note [Switching to WAL]:
// the switch needs the file to itself, and SQLite answers SQLITE_BUSY at once, without its busy
// handler, when another connection is opening the same new file; so it is retried until
// `busy_timeout` has passed, as the handler would have waited.
absl::StatusOr<std::string> SwitchToWal(Database& db, std::chrono::milliseconds busy_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  while (true) {
    absl::StatusOr<internal::Statement> wal = db.Prepare("PRAGMA journal_mode = WAL");
    absl::StatusOr<bool> row = wal.ok() ? wal->Step() : absl::StatusOr<bool>(wal.status());
    if (row.ok()) return *row ? wal->ColumnText(0) : std::string();
    if (!absl::IsUnavailable(row.status()) || std::chrono::steady_clock::now() >= deadline) {
      return row.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// The per-connection settings of a writer (docs/database.md, "Connections").
absl::Status ConfigureWriter(Database& db, std::chrono::milliseconds busy_timeout) {
  ISTAR_RETURN_IF_ERROR(db.Execute("PRAGMA foreign_keys = ON"));
  ISTAR_ASSIGN_OR_RETURN(const std::string mode, SwitchToWal(db, busy_timeout));
  if (mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        "SQLite could not switch the file to WAL mode (journal_mode is '", mode,
        "'); the store needs a local file system with shared memory (not NFS, not :memory:)"));
  }
  // Under WAL, NORMAL syncs at checkpoints only: a power cut may lose the last transactions but
  // never corrupts the file, and a metric stream is resent by its worker anyway.
  return db.Execute("PRAGMA synchronous = NORMAL");
}

absl::StatusOr<Database> OpenDatabase(const std::string& path, const StoreOptions& options,
                                      int target_version) {
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "busy_timeout must be between 0 and 2^31 - 1 ms, got ", options.busy_timeout.count()));
  }
  const bool read_only = options.mode == OpenMode::kReadOnly;
  ISTAR_ASSIGN_OR_RETURN(
      Database db,
      Database::Open(path, {.read_only = read_only,
                            .busy_timeout_ms = static_cast<int>(options.busy_timeout.count())}));
  if (read_only) {
    ISTAR_RETURN_IF_ERROR(WithPath(internal::CheckReadable(db), path));
  } else {
    ISTAR_RETURN_IF_ERROR(WithPath(ConfigureWriter(db, options.busy_timeout), path));
    ISTAR_RETURN_IF_ERROR(WithPath(internal::Migrate(db, target_version), path));
  }
  return db;
}

}  // namespace

int CurrentSchemaVersion() { return internal::LatestSchemaVersion(); }

absl::Status CreateStoreAtVersion(const std::string& path, int version) {
  if (version < 1 || version > CurrentSchemaVersion()) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema version must be in [1, ", CurrentSchemaVersion(), "], got ", version));
  }
  return OpenDatabase(path, {}, version).status();
}

absl::StatusOr<std::string> NewLeaseId() { return internal::NewLeaseId(); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(Database db, OpenDatabase(path, options, CurrentSchemaVersion()));
  return std::unique_ptr<Store>(
      new Store(path, options, std::make_unique<Database>(std::move(db))));
}

Store::Store(std::string path, StoreOptions options, std::unique_ptr<Database> db)
    : path_(std::move(path)), options_(std::move(options)), db_(std::move(db)) {}

Store::~Store() = default;

Timestamp Store::Now() const {
  return (options_.clock != nullptr ? *options_.clock : SystemClock()).Now();
}

absl::Status Store::CheckWritable() const {
  if (!read_only()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(path_, ": the store was opened read-only; open it read-write to write"));
}

absl::StatusOr<SubmitResult> Store::SubmitSweep(const sweeps::SweepSpec& sweep) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::SubmitSweep(*db_, sweep, Now());
}

absl::Status Store::WriteMetrics(std::span<const MetricRow> rows) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::WriteMetrics(*db_, rows);
}

absl::Status Store::WriteIsotropy(std::span<const IsotropyRow> rows) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::WriteIsotropy(*db_, rows);
}

absl::Status Store::WriteFinalResults(const std::string& trial_id,
                                      std::span<const FinalResult> results) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::WriteFinalResults(*db_, trial_id, results);
}

absl::StatusOr<int64_t> Store::MarkTrialRunning(const std::string& trial_id) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::MarkTrialRunning(*db_, trial_id, Now());
}

absl::Status Store::MarkTrialDone(const std::string& trial_id) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::FinishTrial(*db_, trial_id, TrialStatus::kDone, std::nullopt, Now());
}

absl::Status Store::MarkTrialFailed(const std::string& trial_id, const std::string& error) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::FinishTrial(*db_, trial_id, TrialStatus::kFailed, error, Now());
}

absl::StatusOr<WorkerRecord> Store::RegisterWorker(const std::string& worker_id,
                                                   const std::string& host) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::RegisterWorker(*db_, worker_id, host, Now());
}

absl::StatusOr<std::vector<WorkerRecord>> Store::ListWorkers() {
  absl::MutexLock lock(&mu_);
  return internal::ListWorkers(*db_);
}

absl::Status Store::ReleaseQuarantine(const std::string& worker_id) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::ReleaseQuarantine(*db_, worker_id);
}

absl::StatusOr<std::optional<Lease>> Store::LeaseTrial(const std::string& worker_id, int64_t ranks,
                                                       const LeasePolicy& policy,
                                                       const std::string& lease_id) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::LeaseTrial(*db_, worker_id, ranks, policy, Now(), lease_id);
}

absl::StatusOr<LeaseState> Store::Heartbeat(const std::string& trial_id, int64_t fencing_token,
                                            const LeasePolicy& policy) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::Heartbeat(*db_, trial_id, fencing_token, policy, Now());
}

absl::Status Store::WriteLeasedResults(const std::string& trial_id, int64_t fencing_token,
                                       std::span<const MetricRow> metrics,
                                       std::span<const IsotropyRow> isotropy) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::WriteLeasedResults(*db_, trial_id, fencing_token, metrics, isotropy);
}

absl::Status Store::CompleteLeasedTrial(const std::string& trial_id, int64_t fencing_token,
                                        std::span<const FinalResult> results) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::CompleteLeasedTrial(*db_, trial_id, fencing_token, results, Now());
}

absl::StatusOr<TrialStatus> Store::FailLeasedTrial(const std::string& trial_id,
                                                   int64_t fencing_token,
                                                   const LeaseFailure& failure,
                                                   const LeasePolicy& policy) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::FailLeasedTrial(*db_, trial_id, fencing_token, failure, policy, Now());
}

absl::StatusOr<std::vector<std::string>> Store::ExpireLeases(const LeasePolicy& policy) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::ExpireLeases(*db_, policy, Now());
}

absl::StatusOr<int64_t> Store::GraceLeasesAfterRestart(const LeasePolicy& policy) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::GraceLeasesAfterRestart(*db_, policy, Now());
}

absl::StatusOr<int64_t> Store::CancelSweep(const std::string& sweep) {
  ISTAR_RETURN_IF_ERROR(CheckWritable());
  absl::MutexLock lock(&mu_);
  return internal::CancelSweep(*db_, sweep, Now());
}

absl::StatusOr<std::vector<TrialRecord>> Store::ListTrials(const TrialFilter& filter) {
  absl::MutexLock lock(&mu_);
  return internal::ListTrials(*db_, filter);
}

absl::StatusOr<SweepProgress> Store::GetSweep(const std::string& sweep) {
  absl::MutexLock lock(&mu_);
  return internal::GetSweep(*db_, sweep);
}

absl::StatusOr<std::vector<SweepProgress>> Store::ListSweeps() {
  absl::MutexLock lock(&mu_);
  return internal::ListSweeps(*db_);
}

absl::StatusOr<int64_t> Store::DataVersion() {
  absl::MutexLock lock(&mu_);
  return internal::DataVersion(*db_);
}

absl::StatusOr<TrialRecord> Store::GetTrial(const std::string& trial_id) {
  absl::MutexLock lock(&mu_);
  // A prefix filter on the full id: a 64-digit id has one match at most.
  ISTAR_ASSIGN_OR_RETURN(std::vector<TrialRecord> found,
                         internal::ListTrials(*db_, {.trial_ids = {trial_id}}));
  if (found.empty() || found.front().id != trial_id) {
    return absl::NotFoundError(absl::StrCat(path_, ": no trial with id '", trial_id, "'"));
  }
  return std::move(found.front());
}

absl::StatusOr<std::string> Store::ResolveTrialId(const std::string& prefix) {
  absl::MutexLock lock(&mu_);
  return internal::ResolveTrialId(*db_, prefix);
}

absl::StatusOr<Trajectories> Store::ExportTrajectories(const std::string& trial_id) {
  absl::MutexLock lock(&mu_);
  return internal::ExportTrajectories(*db_, trial_id);
}

absl::StatusOr<std::vector<IsotropyRow>> Store::ExportLayer(int64_t layer) {
  absl::MutexLock lock(&mu_);
  return internal::ExportLayer(*db_, layer);
}

absl::StatusOr<ComparisonTable> Store::Compare(const CompareOptions& options) {
  absl::MutexLock lock(&mu_);
  return internal::Compare(*db_, options);
}

absl::StatusOr<QueryResult> Store::RunReadOnlyQuery(const std::string& sql) {
  absl::MutexLock lock(&mu_);
  return internal::RunReadOnlyQuery(*db_, sql);
}

}  // namespace istar::db
