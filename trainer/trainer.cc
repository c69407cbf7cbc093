#include "trainer/trainer.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "db/store.h"
#include "trainer/internal/loop.h"
#include "trainer/internal/torch_boundary.h"

namespace istar::trainer {
namespace {

// What can be checked before anything is loaded.
absl::Status ValidateTrial(const sweeps::TrialSpec& trial, const RunOptions& options) {
  if (options.db_path.empty()) return absl::InvalidArgumentError("RunOptions::db_path is empty");
  // Note [Precision]: the LibTorch istar builds against here is CPU-only, where autocast is not
  // available; rather than silently training in another precision than the sweep asked for,
  // such a trial is refused.
  if (trial.training.precision != "fp32") {
    return absl::InvalidArgumentError(
        absl::StrCat("training.precision: \"", trial.training.precision,
                     "\" needs autocast on a GPU, which this CPU build of istar lacks; use fp32"));
  }
  if (trial.batch_size < 1 || trial.epochs < 1) {
    return absl::InvalidArgumentError("batch_size and epochs must be >= 1");
  }
  return absl::OkStatus();
}

// Submits `trial` as a one-trial sweep unless the store already holds it.
absl::Status EnsureTrialStored(db::Store& store, const sweeps::TrialSpec& trial) {
  const absl::StatusOr<db::TrialRecord> record = store.GetTrial(trial.id);
  if (record.ok()) return absl::OkStatus();
  if (!absl::IsNotFound(record.status())) return record.status();
  sweeps::SweepSpec sweep;
  sweep.name = absl::StrCat("train:", trial.id.substr(0, 12));
  sweep.source = "istar train";
  sweep.models[trial.model] = trial.model_path;
  sweep.tasks[trial.task] = trial.task_path;
  sweep.training = trial.training;
  sweep.trials = {trial};
  return store.SubmitSweep(sweep).status();
}

// Rank 0's checks before anything is loaded: the store opens, holds the trial, and the trial is
// not done yet.
absl::StatusOr<std::unique_ptr<db::Store>> OpenStoreForTrial(const sweeps::TrialSpec& trial,
                                                             const RunOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store, db::Store::Open(options.db_path));
  ISTAR_RETURN_IF_ERROR(EnsureTrialStored(*store, trial));
  ISTAR_ASSIGN_OR_RETURN(const db::TrialRecord record, store->GetTrial(trial.id));
  if (record.status == db::TrialStatus::kDone) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial.id.substr(0, 12), " is already done in ", options.db_path));
  }
  return store;
}

// The status as the store records it: code and message, without payloads.
std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

}  // namespace

absl::StatusOr<TrialResult> RunTrial(const sweeps::TrialSpec& trial, const RunOptions& options) {
  ISTAR_RETURN_IF_ERROR(ValidateTrial(trial, options));
  comm::LocalCommunicator local;
  comm::Communicator& group = options.group != nullptr ? *options.group : local;
  const bool leader = group.rank() == 0;
  std::unique_ptr<db::Store> store;
  absl::Status ready;
  if (leader) {
    absl::StatusOr<std::unique_ptr<db::Store>> opened = OpenStoreForTrial(trial, options);
    if (opened.ok()) store = *std::move(opened);
    ready = opened.status();
  }
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group, ready));
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<internal::TrialLoop> loop,
                         internal::CatchTorch([&] {
                           return internal::TrialLoop::Create(trial, options, group);
                         }));
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(
      group, leader ? store->MarkTrialRunning(trial.id).status() : absl::OkStatus()));
  const absl::StatusOr<TrialResult> result =
      internal::CatchTorch([&] { return loop->Run(store.get()); });
  if (!leader) return result;
  if (!result.ok()) {
    // The trial cannot go on; record why, and report the original error.
    store->MarkTrialFailed(trial.id, ErrorText(result.status())).IgnoreError();
    return result.status();
  }
  if (result->status == "done") ISTAR_RETURN_IF_ERROR(store->MarkTrialDone(trial.id));
  if (result->status == "failed") {
    ISTAR_RETURN_IF_ERROR(store->MarkTrialFailed(trial.id, result->error));
  }
  return result;
}

}  // namespace istar::trainer
