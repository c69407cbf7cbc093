// SubmitSweep and the trial state transitions of the standalone trainer.
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "db/internal/operations.h"

namespace istar::db::internal {
namespace {

int64_t Millis(Timestamp time) { return time.time_since_epoch().count(); }

bool IsTrialId(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest with SHA-256 fails only on allocation failure, which OpenSSL reports by aborting
  // elsewhere too; an empty digest would still be a valid (if useless) key.
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

// Note [Sweep ids]
// A sweep's id is the SHA-256 (hex) of "istar-sweep-v1\n" + its name + "\n" + its distinct
// trial ids, sorted, each followed by "\n". So the id names what the sweep asks for: the same
// file submitted twice (or re-indented, or with new comments) is the same sweep, and submitting
// it again is a no-op rather than a second copy, which makes SubmitSweep safe to retry. A sweep
// that keeps its name but changes a trial is a new sweep; its unchanged trials are shared.
std::string SweepId(const std::string& name, std::vector<std::string> trial_ids) {
  std::sort(trial_ids.begin(), trial_ids.end());
  std::string text = absl::StrCat("istar-sweep-v1\n", name, "\n");
  for (const std::string& id : trial_ids) absl::StrAppend(&text, id, "\n");
  return Sha256Hex(text);
}

absl::Status CheckSweep(const sweeps::SweepSpec& sweep) {
  if (sweep.name.empty()) return absl::InvalidArgumentError("the sweep has no name");
  for (size_t i = 0; i < sweep.trials.size(); ++i) {
    if (!IsTrialId(sweep.trials[i].id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sweep '", sweep.name, "' trial ", i, ": id '", sweep.trials[i].id,
                       "' is not a SHA-256 digest (64 lower-case hex digits)"));
    }
    // The names the store accepts are the catalogue's (Note [Regularizer names are the
    // catalogue's], schema.cc).
    if (catalog::FindRegularizer(sweep.trials[i].regularizer) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sweep '", sweep.name, "' trial ", i, ": unknown regularizer '",
          sweep.trials[i].regularizer, "'; expected one of ", catalog::RegularizerNames()));
    }
    if (catalog::FindTask(sweep.trials[i].task) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("sweep '", sweep.name, "' trial ", i,
                                                     ": unknown task '", sweep.trials[i].task,
                                                     "'; expected one of ", catalog::TaskNames()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// A new trial joins the end of the queue: max(queue_order) is the last entry of
// trials_by_queue_order, not a scan. See Note [Queue order] in schema.cc.
const char kInsertTrialSql[] = R"sql(
    INSERT INTO trials (id, canonical_json, model, task, regularizer, lambda, zeta, batch_size,
                        epochs, seed, learning_rate, ranks, created_at, queue_order,
                        gradient_accumulation_steps)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
            (SELECT coalesce(max(queue_order), 0) + 1 FROM trials), ?14)
    ON CONFLICT (id) DO NOTHING)sql";

namespace {

absl::Status InsertTrial(Database& db, const sweeps::TrialSpec& trial, int64_t now,
                         SubmitResult& result) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement insert, db.Cached(kInsertTrialSql));
  insert->BindText(1, trial.id);
  insert->BindText(2, trial.canonical_json);
  insert->BindText(3, trial.model);
  insert->BindText(4, trial.task);
  insert->BindText(5, trial.regularizer);
  insert->BindDouble(6, trial.lambda);
  insert->BindDouble(7, trial.zeta);
  insert->BindInt(8, trial.batch_size);
  insert->BindInt(9, trial.epochs);
  insert->BindInt(10, trial.seed);
  insert->BindDouble(11, trial.learning_rate);
  insert->BindInt(12, trial.training.ranks_per_trial);
  insert->BindInt(13, now);
  insert->BindInt(14, trial.training.gradient_accumulation_steps);
  ISTAR_RETURN_IF_ERROR(insert->Run());
  if (db.Changes() == 1) {
    ++result.trials_added;
    return absl::OkStatus();
  }
  ++result.trials_present;
  ISTAR_ASSIGN_OR_RETURN(CachedStatement status,
                         db.Cached("SELECT status = 'done' FROM trials WHERE id = ?1"));
  status->BindText(1, trial.id);
  ISTAR_ASSIGN_OR_RETURN(const bool row, status->Step());
  if (row && status->ColumnInt(0) != 0) ++result.trials_done;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SubmitResult> SubmitSweep(Database& db, const sweeps::SweepSpec& sweep,
                                         Timestamp now) {
  ISTAR_RETURN_IF_ERROR(CheckSweep(sweep));
  // Distinct trials in their first position: an axis listing a value twice yields one trial.
  std::map<std::string, size_t> first_position;
  std::vector<std::string> ids;
  for (size_t i = 0; i < sweep.trials.size(); ++i) {
    if (first_position.emplace(sweep.trials[i].id, i).second) ids.push_back(sweep.trials[i].id);
  }
  SubmitResult result{.sweep_id = SweepId(sweep.name, ids),
                      .trials_total = static_cast<int64_t>(ids.size())};

  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  {
    ISTAR_ASSIGN_OR_RETURN(CachedStatement insert, db.Cached(R"sql(
        INSERT INTO sweeps (id, name, source, yaml, trial_count, submitted_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING)sql"));
    insert->BindText(1, result.sweep_id);
    insert->BindText(2, sweep.name);
    insert->BindText(3, sweep.source);
    insert->BindText(4, sweep.yaml);
    insert->BindInt(5, result.trials_total);
    insert->BindInt(6, Millis(now));
    ISTAR_RETURN_IF_ERROR(insert->Run());
    result.sweep_was_present = db.Changes() == 0;
  }
  for (const std::string& id : ids) {
    const sweeps::TrialSpec& trial = sweep.trials[first_position[id]];
    absl::Status status = InsertTrial(db, trial, Millis(now), result);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("sweep '", sweep.name, "' trial ", first_position[id], " (",
                                       trial.model, " ", trial.task, "): ", status.message()));
    }
    ISTAR_ASSIGN_OR_RETURN(CachedStatement link, db.Cached(R"sql(
        INSERT INTO sweep_trials (sweep_id, trial_id, position) VALUES (?1, ?2, ?3)
        ON CONFLICT (sweep_id, trial_id) DO NOTHING)sql"));
    link->BindText(1, result.sweep_id);
    link->BindText(2, id);
    link->BindInt(3, static_cast<int64_t>(first_position[id]));
    ISTAR_RETURN_IF_ERROR(link->Run());
  }
  ISTAR_RETURN_IF_ERROR(transaction.Commit());
  return result;
}

namespace {

struct TrialState {
  TrialStatus status;
  int64_t attempts;
};

absl::StatusOr<TrialState> ReadState(Database& db, const std::string& trial_id) {
  ISTAR_ASSIGN_OR_RETURN(CachedStatement select,
                         db.Cached("SELECT status, attempts FROM trials WHERE id = ?1"));
  select->BindText(1, trial_id);
  ISTAR_ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no trial with id '", trial_id, "'"));
  }
  const std::optional<TrialStatus> status = ParseTrialStatus(select->ColumnText(0));
  // The schema's CHECK admits exactly the names ParseTrialStatus knows.
  if (!status) return absl::InternalError(absl::StrCat("unknown status of trial ", trial_id));
  return TrialState{*status, select->ColumnInt(1)};
}

absl::Status WrongState(const std::string& trial_id, TrialStatus status, const std::string& why) {
  return absl::FailedPreconditionError(
      absl::StrCat("trial ", trial_id, " is ", std::string(TrialStatusName(status)), ": ", why));
}

}  // namespace

absl::StatusOr<int64_t> MarkTrialRunning(Database& db, const std::string& trial_id, Timestamp now) {
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(const TrialState state, ReadState(db, trial_id));
  switch (state.status) {
    case TrialStatus::kDone:
      return WrongState(trial_id, state.status, "a finished trial never runs again");
    case TrialStatus::kCancelled:
      return WrongState(trial_id, state.status, "a cancelled trial does not run");
    case TrialStatus::kLeased:
      return WrongState(trial_id, state.status, "a worker group owns it until its lease ends");
    case TrialStatus::kPending:
    case TrialStatus::kFailed:
    case TrialStatus::kRunning:
      break;
  }
  ISTAR_ASSIGN_OR_RETURN(CachedStatement abandon, db.Cached(R"sql(
      UPDATE attempts SET outcome = 'abandoned', ended_at = ?2
      WHERE trial_id = ?1 AND outcome = 'running')sql"));
  abandon->BindText(1, trial_id);
  abandon->BindInt(2, Millis(now));
  ISTAR_RETURN_IF_ERROR(abandon->Run());
  ISTAR_ASSIGN_OR_RETURN(CachedStatement update, db.Cached(R"sql(
      UPDATE trials SET status = 'running', attempts = attempts + 1, started_at = ?2,
                        finished_at = NULL, error = NULL
      WHERE id = ?1)sql"));
  update->BindText(1, trial_id);
  update->BindInt(2, Millis(now));
  ISTAR_RETURN_IF_ERROR(update->Run());
  ISTAR_ASSIGN_OR_RETURN(CachedStatement attempt, db.Cached(R"sql(
      INSERT INTO attempts (trial_id, attempt, worker_id, lease_id, fencing_token, started_at)
      SELECT id, (SELECT coalesce(max(attempt), 0) + 1 FROM attempts WHERE trial_id = ?1),
             worker_id, lease_id, fencing_token, ?2
      FROM trials WHERE id = ?1)sql"));
  attempt->BindText(1, trial_id);
  attempt->BindInt(2, Millis(now));
  ISTAR_RETURN_IF_ERROR(attempt->Run());
  ISTAR_RETURN_IF_ERROR(transaction.Commit());
  return state.attempts + 1;
}

absl::Status FinishTrial(Database& db, const std::string& trial_id, TrialStatus status,
                         const std::optional<std::string>& error, Timestamp now) {
  ISTAR_ASSIGN_OR_RETURN(Transaction transaction, Transaction::Begin(db));
  ISTAR_ASSIGN_OR_RETURN(const TrialState state, ReadState(db, trial_id));
  if (state.status != TrialStatus::kRunning) {
    return WrongState(
        trial_id, state.status,
        absl::StrCat("only a running trial can become ", std::string(TrialStatusName(status))));
  }
  ISTAR_ASSIGN_OR_RETURN(CachedStatement update, db.Cached(R"sql(
      UPDATE trials SET status = ?2, finished_at = ?3, error = ?4 WHERE id = ?1)sql"));
  update->BindText(1, trial_id);
  update->BindText(2, TrialStatusName(status));
  update->BindInt(3, Millis(now));
  update->BindOptionalText(4, error);
  ISTAR_RETURN_IF_ERROR(update->Run());
  // The running attempt, found by its outcome rather than by number: attempt rows are numbered
  // in start order, which runs ahead of trials.attempts after a lease was requeued.
  ISTAR_ASSIGN_OR_RETURN(CachedStatement attempt, db.Cached(R"sql(
      UPDATE attempts SET outcome = ?2, ended_at = ?3, error = ?4
      WHERE trial_id = ?1 AND outcome = 'running')sql"));
  attempt->BindText(1, trial_id);
  attempt->BindText(2, TrialStatusName(status));
  attempt->BindInt(3, Millis(now));
  attempt->BindOptionalText(4, error);
  ISTAR_RETURN_IF_ERROR(attempt->Run());
  return transaction.Commit();
}

}  // namespace istar::db::internal
