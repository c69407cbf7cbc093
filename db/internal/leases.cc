// The coordinator's lease operations (docs/database.md, "Leases"): workers, leasing the oldest
// pending trial, heartbeats, reports checked against the fencing token, expiry, cancellation.
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "db/internal/operations.h"
#include "sweeps/sweep.h"

namespace istar::db::internal {

// The first entry of trials_queue (status, ranks, queue_order) for ('pending', ?1): O(log n), no
// sort; queue_order is distinct, so no tie-break. See Note [Queue order] in schema.cc.
const char kNextPendingSql[] = R"sql(
    SELECT t.id, t.canonical_json, t.attempts, t.fencing_token, t.ranks,
           t.gradient_accumulation_steps FROM trials AS t
    WHERE t.status = 'pending' AND t.ranks = ?1
    ORDER BY t.queue_order
    LIMIT 1)sql";

namespace {

int64_t Millis(Timestamp time) { return time.time_since_epoch().count(); }
Timestamp FromMillis(int64_t millis) { return Timestamp(std::chrono::milliseconds(millis)); }

std::string TrialName(const std::string& trial_id) {
  return absl::StrCat("trial ", trial_id.substr(0, 12));
}
std::string WorkerName(const std::string& worker_id) {
  return absl::StrCat("worker '", worker_id, "'");
}

// `status` with "name: " before its message unless the message names it already, so that every
// error of an operation (SQLite's included) says which trial or worker it concerns.
absl::Status Named(const absl::Status& status, const std::string& name) {
  if (status.ok() || absl::StrContains(status.message(), name)) return status;
  return absl::Status(status.code(), absl::StrCat(name, ": ", status.message()));
}
template <typename T>
absl::StatusOr<T> Named(absl::StatusOr<T> result, const std::string& name) {
  if (result.ok()) return result;
  return Named(result.status(), name);
}

absl::Status CheckPolicy(const LeasePolicy& policy) {
  if (policy.ttl.count() > 0 && policy.max_attempts >= 1 && policy.quarantine_after >= 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid lease policy (ttl ", policy.ttl.count(), " ms, max_attempts ",
                   policy.max_attempts, ", quarantine_after ", policy.quarantine_after,
                   "): ttl must be > 0, max_attempts >= 1, quarantine_after >= 0"));
}

}  // namespace

// Note [Lease ids]
// A lease id is 16 bytes from OpenSSL's RAND_bytes (a CSPRNG seeded by the OS), in hex. Ids must
// be unique across coordinators, restarts and files without any shared counter, which 128
// random bits are; std::random_device gives no such promise everywhere (it may be a PRNG), and
// OpenSSL is linked already for the SHA-256 of ids. The id is for people and logs: what fences
// a stale report is the fencing token (Note [Lease fencing]). A group may propose the id of the
// lease it asks for, made by this same function (Note [Lease ids a group proposes]).
absl::StatusOr<std::string> NewLeaseId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError(
        absl::StrCat("OpenSSL RAND_bytes failed: ", ERR_error_string(ERR_get_error(), nullptr)));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char byte : bytes) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

namespace {

// Adds one to the worker's consecutive failures (quarantining it once they reach
// `quarantine_after`, if > 0) or resets them; sets last_seen_at when `seen_at` is given.
absl::Status RecordWorkerOutcome(Database& db, const std::string& worker_id, bool failed,
                                 int64_t quarantine_after, std::optional<int64_t> seen_at) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement update, db.Cached(R"sql(
      UPDATE workers SET
        consecutive_failures = CASE WHEN ?2 THEN consecutive_failures + 1 ELSE 0 END,
        quarantined = CASE WHEN ?2 AND ?3 > 0 AND consecutive_failures + 1 >= ?3 THEN 1
                           ELSE quarantined END,
        last_seen_at = coalesce(?4, last_seen_at)
      WHERE id = ?1)sql"));
  update->BindText(1, worker_id);
  update->BindInt(2, failed ? 1 : 0);
  update->BindInt(3, quarantine_after);
  update->BindOptionalInt(4, seen_at);
  return update->Run();
}

absl::Status RecordWorkerSeen(Database& db, const std::string& worker_id, int64_t now) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement update,
                         db.Cached("UPDATE workers SET last_seen_at = ?2 WHERE id = ?1"));
  update->BindText(1, worker_id);
  update->BindInt(2, now);
  return update->Run();
}

// Ends the trial's current attempt (if one runs) with `outcome` and moves the trial to `status`,
// dropping its lease. `uncounted` gives the attempt back (a requeue). The fencing token stays:
// it only ever grows, at the next lease.
absl::Status EndAttempt(Database& db, const std::string& trial_id, TrialStatus status,
                        std::string_view outcome, const std::optional<std::string>& error,
                        bool uncounted, int64_t now) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement attempt, db.Cached(R"sql(
      UPDATE attempts SET outcome = ?2, ended_at = ?3, error = ?4
      WHERE trial_id = ?1 AND outcome = 'running')sql"));
  attempt->BindText(1, trial_id);
  attempt->BindText(2, outcome);
  attempt->BindInt(3, now);
  attempt->BindOptionalText(4, error);
  ISTAR_RETURN_IF_ERROR(attempt->Run());
  ISTAR_ASSIGN_OR_RETURN(CachedStatement trial, db.Cached(R"sql(
      UPDATE trials SET status = ?2, attempts = attempts - ?3, error = ?4, lease_id = NULL,
                        lease_expires_at = NULL,
                        finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN ?5 END
      WHERE id = ?1)sql"));
  trial->BindText(1, trial_id);
  trial->BindText(2, TrialStatusName(status));
  trial->BindInt(3, uncounted ? 1 : 0);
  trial->BindOptionalText(4, error);
  trial->BindInt(5, now);
  return trial->Run();
}

// Expires every lease whose expiry is at or before `now`, inside the caller's transaction.
absl::StatusOr<std::vector<std::string>> ExpireOverdue(Database& db, const LeasePolicy& policy,
                                                       int64_t now) {
  struct Overdue {
    std::string trial_id;
    int64_t attempts;
    std::string worker_id;
  };
  std::vector<Overdue> overdue;
  {
    ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
        SELECT id, attempts, worker_id FROM trials
        WHERE status = 'leased' AND lease_expires_at <= ?1 ORDER BY lease_expires_at, id)sql"));
    select->BindInt(1, now);
    while (true) {
      ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
      if (!row) break;
      overdue.push_back({select->ColumnText(0), select->ColumnInt(1), select->ColumnText(2)});
    }
  }
  std::vector<std::string> expired;
  for (const Overdue& lease : overdue) {
    const std::string error =
        absl::StrCat("lease expired on attempt ", lease.attempts, " of ", policy.max_attempts);
    const TrialStatus next =
        lease.attempts >= policy.max_attempts ? TrialStatus::kFailed : TrialStatus::kPending;
    ISTAR_RETURN_IF_ERROR(
        Named(EndAttempt(db, lease.trial_id, next, "expired", error, /*uncounted=*/false, now),
              TrialName(lease.trial_id)));
    // An expiry is the worker's failure (it stopped heartbeating), not the trial's; the worker
    // was not seen, so last_seen_at stays.
    ISTAR_RETURN_IF_ERROR(
        RecordWorkerOutcome(db, lease.worker_id, true, policy.quarantine_after, std::nullopt));
    expired.push_back(lease.trial_id);
  }
  return expired;
}

// Note [Lease fencing]
// Each lease raises trials.fencing_token by one, so the tokens of a trial's leases strictly
// increase. A report (heartbeat, results, completion, failure) carries its lease's token and is
// accepted iff the trial is still 'leased' and its token is that one; otherwise it changes
// nothing. Once a lease ended (expired, failed, cancelled) or the trial was leased again, the
// old holder's token no longer matches, so a worker that was presumed dead cannot overwrite the
// work of its successor. A lease ends when an operation ends it (ExpireLeases, which LeaseTrial
// runs first), not at the instant of its expiry: until then nobody else holds the trial, so a
// late report is still the only one and may be accepted. The check and the write are one
// transaction, so no lease can change between them.
struct LeaseRow {
  TrialStatus status;
  int64_t fencing_token;
  std::string worker_id;
  int64_t attempts;
};

absl::StatusOr<LeaseRow> ReadLease(Database& db, const std::string& trial_id) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
      SELECT status, fencing_token, worker_id, attempts FROM trials WHERE id = ?1)sql"));
  select->BindText(1, trial_id);
  ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no such trial in ", db.path()));
  const std::optional<TrialStatus> status = ParseTrialStatus(select->ColumnText(0));
  // The schema's CHECK admits exactly the names ParseTrialStatus knows.
  if (!status) return absl::InternalError(absl::StrCat("unknown status ", select->ColumnText(0)));
  return LeaseRow{*status, select->ColumnInt(1), select->ColumnText(2), select->ColumnInt(3)};
}

absl::Status Stale(const LeaseRow& lease, int64_t fencing_token) {
  return absl::FailedPreconditionError(absl::StrCat(
      "fencing token ", fencing_token, " is not the current lease (the trial is ",
      std::string(TrialStatusName(lease.status)), " with fencing token ", lease.fencing_token,
      "): the lease expired, ended or passed to another worker; nothing was written"));
}

// The current lease of `trial_id` if `fencing_token` is its token; see Note [Lease fencing].
absl::StatusOr<LeaseRow> CheckLease(Database& db, const std::string& trial_id,
                                    int64_t fencing_token) {
  ISTAR_ASSIGN_OR_RETURN(LeaseRow lease, ReadLease(db, trial_id));
  if (lease.status != TrialStatus::kLeased || lease.fencing_token != fencing_token) {
    return Stale(lease, fencing_token);
  }
  return lease;
}

absl::StatusOr<WorkerRecord> ReadWorker(Database& db, const std::string& worker_id) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
      SELECT id, host, registered_at, last_seen_at, consecutive_failures, quarantined
      FROM workers WHERE id = ?1)sql"));
  select->BindText(1, worker_id);
  ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("not registered in ", db.path()));
  return WorkerRecord{select->ColumnText(0),
                      select->ColumnText(1),
                      FromMillis(select->ColumnInt(2)),
                      FromMillis(select->ColumnInt(3)),
                      select->ColumnInt(4),
                      select->ColumnInt(5) != 0};
}

// Fills the NULL gradient_accumulation_steps of the trials of the first sweep that holds
// `trial_id` from that sweep's stored YAML, and returns `trial_id`'s. See Note [A lease carries
// its trial] in schema.cc.
absl::StatusOr<int64_t> FillAccumulationFromSweep(Database& db, const std::string& trial_id,
                                                  const std::string& yaml) {
  const absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "stored sweep");
  if (!sweep.ok()) {
    return absl::InternalError(
        absl::StrCat("the stored YAML of its first sweep no longer reads, so its "
                     "gradient_accumulation_steps is unknown: ",
                     sweep.status().message()));
  }
  ISTAR_ASSIGN_OR_RETURN(CachedStatement fill, db.Cached(R"sql(
      UPDATE trials SET gradient_accumulation_steps = ?2
      WHERE id = ?1 AND gradient_accumulation_steps IS NULL)sql"));
  for (const sweeps::TrialSpec& trial : sweep->trials) {
    fill->BindText(1, trial.id);
    fill->BindInt(2, sweep->training.gradient_accumulation_steps);
    ISTAR_RETURN_IF_ERROR(fill->Run());
  }
  return sweep->training.gradient_accumulation_steps;
}

// The lease described by `row`, a row of kNextPendingSql's columns (id, canonical_json,
// attempts, fencing_token, ranks, gradient_accumulation_steps): the trial's next lease when
// `next` (one more attempt, the next token), its current one otherwise; with the YAML of its
// first sweep.
absl::StatusOr<Lease> LeaseOfRow(Database& db, Statement& row, bool next) {
  const int64_t step = next ? 1 : 0;
  Lease lease{.trial_id = row.ColumnText(0),
              .canonical_json = row.ColumnText(1),
              .ranks_per_trial = row.ColumnInt(4),
              .attempt = row.ColumnInt(2) + step,
              .fencing_token = row.ColumnInt(3) + step};
  const bool accumulation_known = !row.IsNull(5);
  if (accumulation_known) lease.gradient_accumulation_steps = row.ColumnInt(5);
  ISTAR_ASSIGN_OR_RETURN(CachedStatement yaml, db.Cached(R"sql(
      SELECT s.yaml FROM sweep_trials AS st JOIN sweeps AS s ON s.id = st.sweep_id
      WHERE st.trial_id = ?1 ORDER BY s.submitted_at, s.id LIMIT 1)sql"));
  yaml->BindText(1, lease.trial_id);
  ISTAR_ASSIGN_OR_RETURN(const bool has_sweep, yaml->Step());
  if (has_sweep) lease.sweep_yaml = yaml->ColumnText(0);
  if (!accumulation_known) {
    if (!has_sweep) {
      return absl::InternalError(absl::StrCat(TrialName(lease.trial_id), " belongs to no sweep"));
    }
    ISTAR_ASSIGN_OR_RETURN(lease.gradient_accumulation_steps,
                           Named(FillAccumulationFromSweep(db, lease.trial_id, lease.sweep_yaml),
                                 TrialName(lease.trial_id)));
  }
  return lease;
}

// The oldest pending trial for a group of `ranks` (by created_at, then its first position in a
// sweep, then id: the stored queue_order, Note [Queue order] in schema.cc), as its next lease.
absl::StatusOr<std::optional<Lease>> NextPending(Database& db, int64_t ranks) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement next, db.Cached(kNextPendingSql));
  next->BindInt(1, ranks);
  ISTAR_ASSIGN_OR_RETURN(const bool row, next->Step());
  if (!row) return std::nullopt;
  return LeaseOfRow(db, *next, /*next=*/true);
}

// Extends the live lease of `trial_id` to now + policy.ttl and records that its worker was seen:
// what a heartbeat does, and a lease request tried again (LeaseAgain).
absl::Status ExtendLease(Database& db, const std::string& trial_id, const std::string& worker_id,
                         const LeasePolicy& policy, Timestamp now) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement extend, db.Cached(R"sql(
      UPDATE trials SET lease_expires_at = ?2 WHERE id = ?1)sql"));
  extend->BindText(1, trial_id);
  extend->BindInt(2, Millis(now + policy.ttl));
  ISTAR_RETURN_IF_ERROR(extend->Run());
  return RecordWorkerSeen(db, worker_id, Millis(now));
}

// Note [Lease ids a group proposes]
// A lease request whose answer is lost (the coordinator killed after its commit, a deadline
// that ran out while it wrote, a broken connection) leaves a trial leased to a group that never
// heard of it: nobody trains it until the lease expires, a TTL later, and the expiry counts an
// attempt against the trial and a failure against the group (three such in a row quarantine
// it). So a group proposes the id of the lease it asks for (NewLeaseId, 128 random bits, fresh
// for each request and the same on every try of it, docs/protocol.md) and the coordinator
// gives that lease the proposed id. A try whose id names a lease this worker still holds, for
// its number of ranks, gets that lease again, its expiry renewed as a heartbeat would: same
// trial, attempt and fencing token, no new attempt row. A proposed id that names anything else
// (a lease that has ended, another worker's) is not reused: the new lease gets an id of the
// coordinator's, as for a request that proposes none (older clients).
absl::StatusOr<std::optional<Lease>> LeaseAgain(Database& db, const std::string& worker_id,
                                                int64_t ranks, const std::string& lease_id,
                                                const LeasePolicy& policy, Timestamp now) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement held, db.Cached(R"sql(
      SELECT t.id, t.canonical_json, t.attempts, t.fencing_token, t.ranks,
             t.gradient_accumulation_steps FROM trials AS t
      WHERE t.lease_id = ?1 AND t.status = 'leased' AND t.worker_id = ?2 AND t.ranks = ?3)sql"));
  held->BindText(1, lease_id);
  held->BindText(2, worker_id);
  held->BindInt(3, ranks);
  ISTAR_ASSIGN_OR_RETURN(const bool row, held->Step());
  if (!row) return std::nullopt;
  ISTAR_ASSIGN_OR_RETURN(Lease lease, LeaseOfRow(db, *held, /*next=*/false));
  lease.lease_id = lease_id;
  lease.expires_at = now + policy.ttl;
  ISTAR_RETURN_IF_ERROR(ExtendLease(db, lease.trial_id, worker_id, policy, now));
  return lease;
}

// Whether any attempt, of any trial, had the lease id `lease_id`.
absl::StatusOr<bool> LeaseIdUsed(Database& db, const std::string& lease_id) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement used,
                         db.Cached("SELECT 1 FROM attempts WHERE lease_id = ?1 LIMIT 1"));
  used->BindText(1, lease_id);
  return used->Step();
}

// A proposed lease id is empty (none) or what NewLeaseId makes: 32 lowercase hex digits.
absl::Status CheckProposedLeaseId(const std::string& lease_id) {
  if (lease_id.empty()) return absl::OkStatus();
  const bool hex = std::all_of(lease_id.begin(), lease_id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (lease_id.size() == 32 && hex) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("lease id '", lease_id.substr(0, 64),
                                                 "': must be 32 lowercase hex digits (or empty)"));
}

// Writes `lease` (from NextPending, with its id and expiry) for `worker_id`.
absl::Status StartLease(Database& db, const Lease& lease, const std::string& worker_id,
                        int64_t now) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement trial, db.Cached(R"sql(
      UPDATE trials SET status = 'leased', attempts = ?2, lease_id = ?3, fencing_token = ?4,
                        lease_expires_at = ?5, worker_id = ?6, started_at = ?7,
                        finished_at = NULL, error = NULL
      WHERE id = ?1)sql"));
  trial->BindText(1, lease.trial_id);
  trial->BindInt(2, lease.attempt);
  trial->BindText(3, lease.lease_id);
  trial->BindInt(4, lease.fencing_token);
  trial->BindInt(5, Millis(lease.expires_at));
  trial->BindText(6, worker_id);
  trial->BindInt(7, now);
  ISTAR_RETURN_IF_ERROR(trial->Run());
  // Attempt rows are numbered in the order attempts start: after a requeue (an attempt given
  // back) the row number runs ahead of trials.attempts, so it is max + 1, not attempts.
  ISTAR_ASSIGN_OR_RETURN(CachedStatement attempt, db.Cached(R"sql(
      INSERT INTO attempts (trial_id, attempt, worker_id, lease_id, fencing_token, started_at)
      VALUES (?1, (SELECT coalesce(max(attempt), 0) + 1 FROM attempts WHERE trial_id = ?1),
              ?2, ?3, ?4, ?5))sql"));
  attempt->BindText(1, lease.trial_id);
  attempt->BindText(2, worker_id);
  attempt->BindText(3, lease.lease_id);
  attempt->BindInt(4, lease.fencing_token);
  attempt->BindInt(5, now);
  ISTAR_RETURN_IF_ERROR(attempt->Run());
  return RecordWorkerSeen(db, worker_id, now);
}

}  // namespace

absl::StatusOr<WorkerRecord> RegisterWorker(Database& db, const std::string& worker_id,
                                            const std::string& host, Timestamp now) {
  if (worker_id.empty()) return absl::InvalidArgumentError("a worker id must not be empty");
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement upsert, db.Cached(R"sql(
      INSERT INTO workers (id, host, registered_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, last_seen_at = excluded.last_seen_at)sql"));
  upsert->BindText(1, worker_id);
  upsert->BindText(2, host);
  upsert->BindInt(3, Millis(now));
  ISTAR_RETURN_IF_ERROR(Named(upsert->Run(), WorkerName(worker_id)));
  ISTAR_ASSIGN_OR_RETURN(WorkerRecord worker,
                         Named(ReadWorker(db, worker_id), WorkerName(worker_id)));
  ISTAR_RETURN_IF_ERROR(transaction.Commit());
  return worker;
}

absl::StatusOr<std::vector<WorkerRecord>> ListWorkers(Database& db) {
  ISTAR_ASSIGN_OR_RETURN(Transaction snapshot, Transaction::BeginRead(db));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached("SELECT id FROM workers ORDER BY id"));
  std::vector<std::string> ids;
  while (true) {
    ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    ids.push_back(select->ColumnText(0));
  }
  std::vector<WorkerRecord> workers;
  for (const std::string& id : ids) {
    ISTAR_ASSIGN_OR_RETURN(WorkerRecord worker, Named(ReadWorker(db, id), WorkerName(id)));
    workers.push_back(std::move(worker));
  }
  ISTAR_RETURN_IF_ERROR(snapshot.Commit());
  return workers;
}

absl::Status ReleaseQuarantine(Database& db, const std::string& worker_id) {
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement update, db.Cached(R"sql(
      UPDATE workers SET quarantined = 0, consecutive_failures = 0 WHERE id = ?1)sql"));
  update->BindText(1, worker_id);
  ISTAR_RETURN_IF_ERROR(Named(update->Run(), WorkerName(worker_id)));
  if (db.Changes() == 0) {
    return absl::NotFoundError(
        absl::StrCat(WorkerName(worker_id), ": not registered in ", db.path()));
  }
  return transaction.Commit();
}

absl::StatusOr<std::optional<Lease>> LeaseTrial(Database& db, const std::string& worker_id,
                                                int64_t ranks, const LeasePolicy& policy,
                                                Timestamp now, const std::string& lease_id) {
  const std::string name = WorkerName(worker_id);
  ISTAR_RETURN_IF_ERROR(Named(CheckPolicy(policy), name));
  if (ranks < 1) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ranks must be >= 1, got ", ranks));
  }
  ISTAR_RETURN_IF_ERROR(Named(CheckProposedLeaseId(lease_id), name));
  // One IMMEDIATE transaction from the expiry to the new lease: two coordinators (or threads)
  // queue on the write lock, and the second sees the first's lease, so no trial is leased twice.
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_RETURN_IF_ERROR(Named(ExpireOverdue(db, policy, Millis(now)).status(), name));
  ISTAR_ASSIGN_OR_RETURN(const WorkerRecord worker, Named(ReadWorker(db, worker_id), name));
  bool reuse_id = false;
  if (!lease_id.empty()) {  // Note [Lease ids a group proposes]
    ISTAR_ASSIGN_OR_RETURN(std::optional<Lease> again,
                           Named(LeaseAgain(db, worker_id, ranks, lease_id, policy, now), name));
    if (again) {
      ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
      return again;
    }
    ISTAR_ASSIGN_OR_RETURN(const bool used, Named(LeaseIdUsed(db, lease_id), name));
    reuse_id = !used;
  }
  if (worker.quarantined) {
    // The expiries above are kept even though this worker gets nothing.
    ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is quarantined after ", worker.consecutive_failures,
                     " failures in a row; it gets no leases until its quarantine is released"));
  }
  ISTAR_ASSIGN_OR_RETURN(std::optional<Lease> lease, Named(NextPending(db, ranks), name));
  if (lease) {
    if (reuse_id) {
      lease->lease_id = lease_id;
    } else {
      ISTAR_ASSIGN_OR_RETURN(lease->lease_id, Named(NewLeaseId(), name));
    }
    lease->expires_at = now + policy.ttl;
    ISTAR_RETURN_IF_ERROR(Named(StartLease(db, *lease, worker_id, Millis(now)),
                                absl::StrCat(name, ", ", TrialName(lease->trial_id))));
  }
  ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
  return lease;
}

absl::StatusOr<LeaseState> Heartbeat(Database& db, const std::string& trial_id,
                                     int64_t fencing_token, const LeasePolicy& policy,
                                     Timestamp now) {
  const std::string name = TrialName(trial_id);
  ISTAR_RETURN_IF_ERROR(Named(CheckPolicy(policy), name));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_ASSIGN_OR_RETURN(const LeaseRow lease, Named(ReadLease(db, trial_id), name));
  if (lease.status == TrialStatus::kCancelled) {
    // Cancelled while this very lease held it (and not, say, after it had expired): the attempt
    // of this token was a lease's and ended as cancelled.
    ISTAR_ASSIGN_OR_RETURN(CachedStatement cancelled, db.Cached(R"sql(
        SELECT 1 FROM attempts WHERE trial_id = ?1 AND fencing_token = ?2
                                 AND lease_id IS NOT NULL AND outcome = 'cancelled')sql"));
    cancelled->BindText(1, trial_id);
    cancelled->BindInt(2, fencing_token);
    ISTAR_ASSIGN_OR_RETURN(const bool row, Named(cancelled->Step(), name));
    if (row) return LeaseState::kCancelled;
  }
  if (lease.status != TrialStatus::kLeased || lease.fencing_token != fencing_token) {
    return Named(Stale(lease, fencing_token), name);
  }
  ISTAR_RETURN_IF_ERROR(Named(ExtendLease(db, trial_id, lease.worker_id, policy, now), name));
  ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
  return LeaseState::kActive;
}

absl::Status WriteLeasedResults(Database& db, const std::string& trial_id, int64_t fencing_token,
                                std::span<const MetricRow> metrics,
                                std::span<const IsotropyRow> isotropy) {
  const std::string name = TrialName(trial_id);
  // A lease covers its own trial only: a row of another trial would slip past the fencing.
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i].trial_id != trial_id) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": metrics row ", i, " is for ", TrialName(metrics[i].trial_id)));
    }
  }
  for (size_t i = 0; i < isotropy.size(); ++i) {
    if (isotropy[i].trial_id != trial_id) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": isotropy row ", i, " is for ", TrialName(isotropy[i].trial_id)));
    }
  }
  ISTAR_RETURN_IF_ERROR(Named(CheckMetrics(metrics), name));
  ISTAR_RETURN_IF_ERROR(Named(CheckIsotropyRows(isotropy), name));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_RETURN_IF_ERROR(Named(CheckLease(db, trial_id, fencing_token).status(), name));
  ISTAR_RETURN_IF_ERROR(Named(UpsertMetrics(db, metrics), name));
  ISTAR_RETURN_IF_ERROR(Named(UpsertIsotropy(db, isotropy), name));
  return Named(transaction.Commit(), name);
}

absl::Status CompleteLeasedTrial(Database& db, const std::string& trial_id, int64_t fencing_token,
                                 std::span<const FinalResult> results, Timestamp now) {
  const std::string name = TrialName(trial_id);
  ISTAR_RETURN_IF_ERROR(Named(CheckFinalResults(trial_id, results), name));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_ASSIGN_OR_RETURN(const LeaseRow lease,
                         Named(CheckLease(db, trial_id, fencing_token), name));
  ISTAR_RETURN_IF_ERROR(Named(UpsertFinalResults(db, trial_id, results), name));
  ISTAR_RETURN_IF_ERROR(Named(EndAttempt(db, trial_id, TrialStatus::kDone, "done", std::nullopt,
                                         /*uncounted=*/false, Millis(now)),
                              name));
  ISTAR_RETURN_IF_ERROR(
      Named(RecordWorkerOutcome(db, lease.worker_id, false, 0, Millis(now)), name));
  return Named(transaction.Commit(), name);
}

absl::StatusOr<TrialStatus> FailLeasedTrial(Database& db, const std::string& trial_id,
                                            int64_t fencing_token, const LeaseFailure& failure,
                                            const LeasePolicy& policy, Timestamp now) {
  const std::string name = TrialName(trial_id);
  ISTAR_RETURN_IF_ERROR(Named(CheckPolicy(policy), name));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_ASSIGN_OR_RETURN(const LeaseRow lease,
                         Named(CheckLease(db, trial_id, fencing_token), name));
  TrialStatus next = TrialStatus::kFailed;
  std::string_view outcome = "failed";
  if (failure.requeue) {
    next = TrialStatus::kPending;
    outcome = "abandoned";
  } else if (failure.retryable && lease.attempts < policy.max_attempts) {
    next = TrialStatus::kPending;
  }
  ISTAR_RETURN_IF_ERROR(Named(
      EndAttempt(db, trial_id, next, outcome, failure.error, failure.requeue, Millis(now)), name));
  ISTAR_RETURN_IF_ERROR(Named(RecordWorkerOutcome(db, lease.worker_id, failure.infrastructure,
                                                  policy.quarantine_after, Millis(now)),
                              name));
  ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
  return next;
}

absl::StatusOr<std::vector<std::string>> ExpireLeases(Database& db, const LeasePolicy& policy,
                                                      Timestamp now) {
  ISTAR_RETURN_IF_ERROR(CheckPolicy(policy));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(std::vector<std::string> expired, ExpireOverdue(db, policy, Millis(now)));
  ISTAR_RETURN_IF_ERROR(transaction.Commit());
  return expired;
}

// Note [Grace after a restart]
// While no coordinator serves the file, no heartbeat can land, so every lease runs down even
// though its worker group is alive and training (it retries its calls until the coordinator is
// back, docs/worker.md). Expiring those leases at the restart would throw away every running
// trial's progress since its last checkpoint and count an attempt against each. So a starting
// coordinator first gives every lease at least one TTL from now: a live group's next heartbeat
// (every TTL / 3) lands well inside it, while a group that died meanwhile loses its lease one
// TTL after the restart, as it would have one TTL after its death with the coordinator up. A
// lease never gets shorter, and no trial changes state.
absl::StatusOr<int64_t> GraceLeasesAfterRestart(Database& db, const LeasePolicy& policy,
                                                Timestamp now) {
  ISTAR_RETURN_IF_ERROR(CheckPolicy(policy));
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement extend, db.Cached(R"sql(
      UPDATE trials SET lease_expires_at = ?1
      WHERE status = 'leased' AND lease_expires_at < ?1)sql"));
  extend->BindInt(1, Millis(now + policy.ttl));
  ISTAR_RETURN_IF_ERROR(extend->Run());
  const int64_t extended = db.Changes();
  ISTAR_RETURN_IF_ERROR(transaction.Commit());
  return extended;
}

absl::StatusOr<int64_t> CancelSweep(Database& db, const std::string& sweep, Timestamp now) {
  const std::string name = absl::StrCat("sweep '", sweep, "'");
  if (sweep.empty()) return absl::InvalidArgumentError("an empty sweep name or id");
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Named(Transaction::Begin(db), name));
  ISTAR_ASSIGN_OR_RETURN(CachedStatement count, db.Cached(R"sql(
      SELECT count(*) FROM sweeps WHERE name = ?1 OR substr(id, 1, length(?1)) = ?1)sql"));
  count->BindText(1, sweep);
  ISTAR_RETURN_IF_ERROR(Named(count->Step().status(), name));
  if (count->ColumnInt(0) == 0) {
    return absl::NotFoundError(
        absl::StrCat(db.path(), ": no sweep is named '", sweep, "' or has an id starting so"));
  }
  std::vector<std::string> trial_ids;
  {
    ISTAR_ASSIGN_OR_RETURN(CachedStatement select, db.Cached(R"sql(
        SELECT DISTINCT t.id FROM trials AS t
        JOIN sweep_trials AS st ON st.trial_id = t.id JOIN sweeps AS s ON s.id = st.sweep_id
        WHERE (s.name = ?1 OR substr(s.id, 1, length(?1)) = ?1)
          AND t.status IN ('pending', 'leased', 'running')
        ORDER BY t.id)sql"));
    select->BindText(1, sweep);
    while (true) {
      ISTAR_ASSIGN_OR_RETURN(const bool row, Named(select->Step(), name));
      if (!row) break;
      trial_ids.push_back(select->ColumnText(0));
    }
  }
  for (const std::string& trial_id : trial_ids) {
    ISTAR_RETURN_IF_ERROR(Named(EndAttempt(db, trial_id, TrialStatus::kCancelled, "cancelled",
                                           std::nullopt, /*uncounted=*/false, Millis(now)),
                                absl::StrCat(name, ", ", TrialName(trial_id))));
  }
  ISTAR_RETURN_IF_ERROR(Named(transaction.Commit(), name));
  return static_cast<int64_t>(trial_ids.size());
}

}  // namespace istar::db::internal
