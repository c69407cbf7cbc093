#include "db/internal/schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"

namespace istar::db::internal {
namespace {

// Version 1: the tables. Conventions (docs/database.md): ids are TEXT, times are INTEGER
// milliseconds since the Unix epoch, every table is STRICT so a value of the wrong type is an
// error instead of being stored as written, and the result tables are WITHOUT ROWID: their
// primary key is how every query reaches them, so the key is the table.
constexpr char kVersion1[] = R"sql(
PRAGMA application_id = 1230197842;

CREATE TABLE sweeps (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  source       TEXT NOT NULL,
  yaml         TEXT NOT NULL,
  trial_count  INTEGER NOT NULL CHECK (trial_count >= 0),
  submitted_at INTEGER NOT NULL
) STRICT;

CREATE TABLE workers (
  id                   TEXT PRIMARY KEY,
  host                 TEXT NOT NULL,
  registered_at        INTEGER NOT NULL,
  last_seen_at         INTEGER NOT NULL,
  consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  quarantined          INTEGER NOT NULL DEFAULT 0 CHECK (quarantined IN (0, 1))
) STRICT;

CREATE TABLE trials (
  id               TEXT PRIMARY KEY CHECK (length(id) = 64),
  canonical_json   TEXT NOT NULL,
  model            TEXT NOT NULL,
  task             TEXT NOT NULL,
  regularizer      TEXT NOT NULL CHECK (regularizer IN ('baseline', 'cosreg', 'istar')),
  lambda           REAL NOT NULL,
  zeta             REAL NOT NULL,
  batch_size       INTEGER NOT NULL CHECK (batch_size > 0),
  epochs           INTEGER NOT NULL CHECK (epochs > 0),
  seed             INTEGER NOT NULL,
  learning_rate    REAL NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                     ('pending', 'leased', 'running', 'done', 'failed', 'cancelled')),
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_id         TEXT,
  fencing_token    INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  worker_id        TEXT REFERENCES workers (id),
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  error            TEXT
) STRICT;

CREATE TABLE sweep_trials (
  sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  trial_id TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, trial_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE attempts (
  trial_id      TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  attempt       INTEGER NOT NULL CHECK (attempt >= 1),
  worker_id     TEXT REFERENCES workers (id),
  lease_id      TEXT,
  fencing_token INTEGER,
  started_at    INTEGER NOT NULL,
  ended_at      INTEGER,
  outcome       TEXT NOT NULL DEFAULT 'running' CHECK (outcome IN
                  ('running', 'done', 'failed', 'expired', 'cancelled', 'abandoned')),
  error         TEXT,
  PRIMARY KEY (trial_id, attempt)
) STRICT, WITHOUT ROWID;

CREATE TABLE metrics (
  trial_id TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  step     INTEGER NOT NULL CHECK (step >= 0),
  epoch    REAL NOT NULL,
  split    TEXT NOT NULL CHECK (split <> ''),
  name     TEXT NOT NULL CHECK (name <> ''),
  value    REAL NOT NULL,
  PRIMARY KEY (trial_id, step, split, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE isotropy (
  trial_id      TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  step          INTEGER NOT NULL CHECK (step >= 0),
  epoch         REAL NOT NULL,
  layer         INTEGER NOT NULL CHECK (layer >= -1),
  isoscore_star REAL NOT NULL,
  isoscore      REAL NOT NULL,
  avg_cosine    REAL NOT NULL,
  twonn         REAL,
  PRIMARY KEY (trial_id, step, layer)
) STRICT, WITHOUT ROWID;

CREATE TABLE final_results (
  trial_id TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  split    TEXT NOT NULL CHECK (split <> ''),
  name     TEXT NOT NULL CHECK (name <> ''),
  value    REAL NOT NULL,
  PRIMARY KEY (trial_id, split, name)
) STRICT, WITHOUT ROWID;
)sql";

// Version 2: the size of a trial's worker group, and the indices of the queries istar runs:
// the coordinator's queue scan (pending trials, oldest first), the filters of `istar trials`
// and `istar compare`, the sweeps of a trial, and a worker's attempts (quarantine).
constexpr char kVersion2[] = R"sql(
ALTER TABLE trials ADD COLUMN ranks INTEGER NOT NULL DEFAULT 1 CHECK (ranks >= 1);
CREATE INDEX trials_by_status ON trials (status, created_at);
CREATE INDEX trials_by_cell ON trials (model, task, regularizer);
CREATE INDEX sweeps_by_name ON sweeps (name);
CREATE INDEX sweep_trials_by_trial ON sweep_trials (trial_id);
CREATE INDEX attempts_by_worker ON attempts (worker_id, started_at);
)sql";

// Version 3: the queue order, stored. See Note [Queue order].
constexpr char kVersion3[] = R"sql(
ALTER TABLE trials ADD COLUMN queue_order INTEGER NOT NULL DEFAULT 0;
UPDATE trials SET queue_order = queued.n
FROM (SELECT t.id AS id,
             row_number() OVER (
               ORDER BY t.created_at,
                        (SELECT min(position) FROM sweep_trials AS st WHERE st.trial_id = t.id),
                        t.id) AS n
      FROM trials AS t) AS queued
WHERE trials.id = queued.id;
CREATE UNIQUE INDEX trials_by_queue_order ON trials (queue_order);
CREATE INDEX trials_queue ON trials (status, ranks, queue_order);
)sql";

// Note [Queue order]
// The coordinator leases the pending trial of a group size that was queued first: by
// created_at, then by its first position in a sweep (a sweep's trials share created_at), then
// by id. Up to version 2 NextPending computed that order in every lease: a correlated
// min(position) subquery per pending trial and a sort, O(pending) per lease and O(n^2) over a
// sweep (bench/RESULTS.md: 175 leases/s with 6,000 trials queued). Version 3 stores it:
// trials.queue_order, distinct (the unique index) and increasing in queue order, so the next
// trial is the first entry of trials_queue (status, ranks, queue_order) for ('pending', ranks),
// O(log n).
// - The migration numbers existing trials 1, 2, ... with row_number() in exactly the old order,
//   once, so a file keeps its lease order across the upgrade.
// - SubmitSweep gives each trial it inserts max(queue_order) + 1 (submit.cc). It inserts a
//   sweep's trials in expansion order, and a later submission comes after every earlier one, so
//   the stored order is the old one whenever the clock moves forward; when it does not (a clock
//   stepped back between two submissions), submission order wins, which is what "first queued"
//   means. A trial already stored keeps its number (ON CONFLICT DO NOTHING), as it kept its
//   created_at and positions before; a requeued trial goes back to its old place.
// - max(queue_order) is the last entry of trials_by_queue_order, O(log n), not a scan. rowid
//   would be cheaper still but is not an order we own: trials has a TEXT primary key, so VACUUM
//   may renumber its rowids, and a deleted last row's rowid is reused.
// - The unique index also makes a second trial with the same number an error instead of an
//   ambiguous queue; writers are serialized (BEGIN IMMEDIATE), so max + 1 never collides.

// Version 4: trials.regularizer without its CHECK (regularizer IN ('baseline', 'cosreg',
// 'istar')). See Note [Regularizer names are the catalogue's].
constexpr char kVersion4[] = R"sql(
CREATE TABLE trials_v4 (
  id               TEXT PRIMARY KEY CHECK (length(id) = 64),
  canonical_json   TEXT NOT NULL,
  model            TEXT NOT NULL,
  task             TEXT NOT NULL,
  regularizer      TEXT NOT NULL CHECK (regularizer <> ''),
  lambda           REAL NOT NULL,
  zeta             REAL NOT NULL,
  batch_size       INTEGER NOT NULL CHECK (batch_size > 0),
  epochs           INTEGER NOT NULL CHECK (epochs > 0),
  seed             INTEGER NOT NULL,
  learning_rate    REAL NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                     ('pending', 'leased', 'running', 'done', 'failed', 'cancelled')),
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_id         TEXT,
  fencing_token    INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  worker_id        TEXT REFERENCES workers (id),
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  error            TEXT,
  ranks            INTEGER NOT NULL DEFAULT 1 CHECK (ranks >= 1),
  queue_order      INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO trials_v4 SELECT id, canonical_json, model, task, regularizer, lambda, zeta,
  batch_size, epochs, seed, learning_rate, status, attempts, lease_id, fencing_token,
  lease_expires_at, worker_id, created_at, started_at, finished_at, error, ranks, queue_order
  FROM trials;
DROP TABLE trials;
ALTER TABLE trials_v4 RENAME TO trials;
CREATE INDEX trials_by_status ON trials (status, created_at);
CREATE INDEX trials_by_cell ON trials (model, task, regularizer);
CREATE UNIQUE INDEX trials_by_queue_order ON trials (queue_order);
CREATE INDEX trials_queue ON trials (status, ranks, queue_order);
)sql";

// Note [Regularizer names are the catalogue's]
// Up to version 3 a CHECK constraint listed the three regularizers, so a fourth needed a
// migration. The names are now rows of catalog/catalog.h: SubmitSweep refuses a trial whose
// regularizer the catalogue does not know (InvalidArgument), and a reader shows a name it does
// not know as stored (a newer istar's), instead of failing. SQLite cannot drop a CHECK, so
// version 4 rebuilds the table the way SQLite's documentation prescribes ("Making Other Kinds Of
// Table Schema Changes"): a new table, the rows copied, the old one dropped, the new one renamed,
// its indices re-created, with foreign keys off for the step (Migration::rebuilds_tables) and
// checked with PRAGMA foreign_key_check before the commit. The tables that refer to trials keep
// their REFERENCES trials (id): after the rename they refer to the new table.

// Note [A lease carries its trial]
// A lease gives a worker group the trial's canonical JSON and the two settings outside its
// identity, ranks_per_trial (trials.ranks) and gradient_accumulation_steps (this column), so that
// no rank needs the sweep file (docs/protocol.md, LeaseTrial). A trial in several sweeps takes
// them from the first submitted, as before. Rows submitted before version 5 hold NULL: their
// first lease reads the value from their first sweep's stored YAML and fills the column for that
// sweep's trials (FillAccumulationFromSweep in leases.cc); SQL cannot read YAML.
constexpr char kVersion5[] = R"sql(
ALTER TABLE trials ADD COLUMN gradient_accumulation_steps INTEGER
  CHECK (gradient_accumulation_steps IS NULL OR gradient_accumulation_steps >= 1);
)sql";

constexpr Migration kMigrations[] = {
    {1,
     "tables: sweeps, workers, trials, sweep_trials, attempts, metrics, isotropy, "
     "final_results",
     kVersion1},
    {2, "trials.ranks; indices for the queue scan, the trial filters and worker history",
     kVersion2},
    {3,
     "trials.queue_order, back-filled in lease order; indices trials_by_queue_order, trials_queue",
     kVersion3},
    {4, "trials.regularizer: any catalogue name (the table rebuilt without its CHECK)", kVersion4,
     /*rebuilds_tables=*/true},
    {5, "trials.gradient_accumulation_steps (NULL before: read from the sweep at the next lease)",
     kVersion5},
};

struct FileIdentity {
  int64_t application_id = 0;
  int64_t version = 0;
  int64_t objects = 0;  // tables, indices, views and triggers
};

// One statement, so one snapshot: read one at a time, the three could straddle another
// process's first migration (application_id still 0, user_version already 3) and a healthy new
// file would look like another program's.
absl::StatusOr<FileIdentity> ReadIdentity(Database& db) {
  ISTAR_ASSIGN_OR_RETURN(Statement query,
                         db.Prepare("SELECT (SELECT application_id FROM pragma_application_id), "
                                    "(SELECT user_version FROM pragma_user_version), "
                                    "(SELECT count(*) FROM sqlite_master)"));
  ISTAR_ASSIGN_OR_RETURN(const bool row, query.Step());
  ISTAR_CHECK(row) << "a SELECT without FROM returns one row";
  return FileIdentity{.application_id = query.ColumnInt(0),
                      .version = query.ColumnInt(1),
                      .objects = query.ColumnInt(2)};
}

absl::Status NotIstar(const Database& db, const FileIdentity& identity) {
  return absl::FailedPreconditionError(absl::StrCat(
      db.path(), ": not an istar results database (SQLite application_id ", identity.application_id,
      ", user_version ", identity.version, ", ", identity.objects,
      " schema objects); istar will not change another program's database"));
}

absl::Status TooNew(const Database& db, const FileIdentity& identity) {
  return absl::FailedPreconditionError(absl::StrCat(
      db.path(), ": schema version ", identity.version, " is newer than this istar knows (",
      LatestSchemaVersion(), "); it was written by a newer istar, which is needed to open it"));
}

absl::Status ApplyStepInTransaction(Database& db, const Migration& step) {
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  // Another process may have applied this step while we waited for the lock.
  ISTAR_ASSIGN_OR_RETURN(const int64_t version, db.QueryInt("PRAGMA user_version"));
  if (version >= step.version) return absl::OkStatus();
  ISTAR_RETURN_IF_ERROR(db.Execute(step.sql));
  if (step.rebuilds_tables) {
    ISTAR_ASSIGN_OR_RETURN(const int64_t broken,
                           db.QueryInt("SELECT count(*) FROM pragma_foreign_key_check"));
    if (broken != 0) {
      return absl::InternalError(absl::StrCat(
          broken, " row(s) break a foreign key after the rebuild; nothing was changed"));
    }
  }
  ISTAR_RETURN_IF_ERROR(db.Execute(absl::StrCat("PRAGMA user_version = ", step.version)));
  return transaction.Commit();
}

// PRAGMA foreign_keys is a no-op inside a transaction, so a step that rebuilds a table switches
// the connection's enforcement off around its transaction and back to what it was.
absl::Status ApplyStep(Database& db, const Migration& step) {
  if (!step.rebuilds_tables) return ApplyStepInTransaction(db, step);
  ISTAR_ASSIGN_OR_RETURN(const int64_t enforced, db.QueryInt("PRAGMA foreign_keys"));
  ISTAR_RETURN_IF_ERROR(db.Execute("PRAGMA foreign_keys = OFF"));
  const absl::Status status = ApplyStepInTransaction(db, step);
  const absl::Status restored =
      db.Execute(absl::StrCat("PRAGMA foreign_keys = ", enforced != 0 ? "ON" : "OFF"));
  return status.ok() ? restored : status;
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

absl::Status Migrate(Database& db, int target_version) {
  ISTAR_ASSIGN_OR_RETURN(const FileIdentity identity, ReadIdentity(db));
  const bool empty = identity.application_id == 0 && identity.version == 0 && identity.objects == 0;
  if (!empty && identity.application_id != kApplicationId) return NotIstar(db, identity);
  if (identity.version > LatestSchemaVersion()) return TooNew(db, identity);
  for (const Migration& step : kMigrations) {
    if (step.version <= identity.version || step.version > target_version) continue;
    absl::Status status = ApplyStep(db, step);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(db.path(), ": migration to schema version ",
                                                      step.version, " failed: ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReadable(Database& db) {
  ISTAR_ASSIGN_OR_RETURN(const FileIdentity identity, ReadIdentity(db));
  if (identity.application_id != kApplicationId) return NotIstar(db, identity);
  if (identity.version > LatestSchemaVersion()) return TooNew(db, identity);
  if (identity.version < LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), ": schema version ", identity.version,
                     " is older than this istar's (", LatestSchemaVersion(),
                     "); a read-only open never migrates: open it read-write once to upgrade it"));
  }
  return absl::OkStatus();
}

}  // namespace istar::db::internal
