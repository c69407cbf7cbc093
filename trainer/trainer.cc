#include "trainer/trainer.h"

#include <c10/util/Exception.h>

#include <memory>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "db/store.h"
#include "trainer/internal/loop.h"

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

// The one LibTorch boundary of RunTrial (STYLE.md §5): LibTorch's exceptions become Internal.
template <typename Fn>
auto CatchTorch(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  }
}

}  // namespace

absl::StatusOr<TrialResult> RunTrial(const sweeps::TrialSpec& trial, const RunOptions& options) {
  ISTAR_RETURN_IF_ERROR(ValidateTrial(trial, options));
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store, db::Store::Open(options.db_path));
  ISTAR_RETURN_IF_ERROR(EnsureTrialStored(*store, trial));
  ISTAR_ASSIGN_OR_RETURN(const db::TrialRecord record, store->GetTrial(trial.id));
  if (record.status == db::TrialStatus::kDone) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial.id.substr(0, 12), " is already done in ", options.db_path));
  }
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<internal::TrialLoop> loop,
                         CatchTorch([&] { return internal::TrialLoop::Create(trial, options); }));
  ISTAR_RETURN_IF_ERROR(store->MarkTrialRunning(trial.id).status());
  const absl::StatusOr<TrialResult> result = CatchTorch([&] { return loop->Run(*store); });
  if (!result.ok()) {
    // The trial cannot go on; record why, and report the original error.
    store->MarkTrialFailed(trial.id, result.status().ToString()).IgnoreError();
    return result.status();
  }
  if (result->status == "done") ISTAR_RETURN_IF_ERROR(store->MarkTrialDone(trial.id));
  if (result->status == "failed") {
    ISTAR_RETURN_IF_ERROR(store->MarkTrialFailed(trial.id, result->error));
  }
  return result;
}

}  // namespace istar::trainer
