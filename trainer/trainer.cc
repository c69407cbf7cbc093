#include "trainer/trainer.h"

#include <functional>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "db/store.h"
#include "torch_boundary/torch_boundary.h"
#include "trainer/internal/loop.h"

namespace istar::trainer {
namespace {

// What can be checked before anything is loaded.
absl::Status ValidateTrial(const sweeps::TrialSpec& trial, const RunOptions& options) {
  const bool cuda = options.device == "cuda" || options.device.rfind("cuda:", 0) == 0;
  if (options.device != "cpu" && !cuda) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: expected cpu, cuda or cuda:N, got \"", options.device, "\""));
  }
  // Note [Precision]: bf16 is CUDA autocast around the forward pass (trainer/autocast.h); on a CPU
  // there is none, and fp16 would need loss scaling, which istar does not implement. Rather than
  // silently training in another precision than the sweep asked for, such a trial is refused.
  const std::string& precision = trial.training.precision;
  if (precision == "fp16") {
    return absl::InvalidArgumentError(
        "training.precision: \"fp16\" needs loss scaling, which istar does not implement; use "
        "bf16 on a GPU, or fp32");
  }
  if (precision != "fp32" && (!cuda || options.float64)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.precision: \"", precision, "\" is autocast on a GPU: train with --device cuda "
        "(istar's GPU build, docs/building.md) and without --float64, or use fp32"));
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

// RunTrial's sink: the results store.
class StoreSink final : public ResultSink {
 public:
  explicit StoreSink(db::Store& store) : store_(store) {}
  absl::Status WriteMetrics(std::span<const db::MetricRow> rows) override {
    return store_.WriteMetrics(rows);
  }
  absl::Status WriteIsotropy(std::span<const db::IsotropyRow> rows) override {
    return store_.WriteIsotropy(rows);
  }
  absl::Status WriteFinalResults(const std::string& trial_id,
                                 std::span<const db::FinalResult> results) override {
    return store_.WriteFinalResults(trial_id, results);
  }

 private:
  db::Store& store_;
};

// Creates the loop on every rank of the group (agreed) and runs it.
absl::StatusOr<TrialResult> CreateAndRun(const sweeps::TrialSpec& trial, const RunOptions& options,
                                         comm::Communicator& group, ResultSink* sink,
                                         const std::function<absl::Status()>& before_run) {
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<internal::TrialLoop> loop, CatchTorch("LibTorch", [&] {
                           return internal::TrialLoop::Create(trial, options, group);
                         }));
  ISTAR_RETURN_IF_ERROR(before_run());
  return CatchTorch("LibTorch", [&] { return loop->Run(sink); });
}

}  // namespace

std::string_view TrialOutcomeName(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kDone:
      return "done";
    case TrialOutcome::kFailed:
      return "failed";
    case TrialOutcome::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::StatusOr<TrialResult> TrainTrial(const sweeps::TrialSpec& trial, const RunOptions& options,
                                       ResultSink* sink) {
  ISTAR_RETURN_IF_ERROR(ValidateTrial(trial, options));
  comm::LocalCommunicator local;
  comm::Communicator& group = options.group != nullptr ? *options.group : local;
  return CreateAndRun(trial, options, group, sink, [] { return absl::OkStatus(); });
}

absl::StatusOr<TrialResult> RunTrial(const sweeps::TrialSpec& trial, const RunOptions& options) {
  if (options.db_path.empty()) return absl::InvalidArgumentError("RunOptions::db_path is empty");
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
  std::optional<StoreSink> sink;
  if (leader) sink.emplace(*store);
  bool started = false;
  const absl::StatusOr<TrialResult> result = CreateAndRun(
      trial, options, group, leader ? &*sink : nullptr, [&] {
        ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(
            group, leader ? store->MarkTrialRunning(trial.id).status() : absl::OkStatus()));
        started = true;
        return absl::OkStatus();
      });
  if (!leader) return result;
  if (!result.ok()) {
    // A trial that could not start is left as it was; one that started is marked failed with
    // the reason, and the original error is reported.
    if (started) store->MarkTrialFailed(trial.id, ErrorText(result.status())).IgnoreError();
    return result.status();
  }
  if (result->status == TrialOutcome::kDone) {
    ISTAR_RETURN_IF_ERROR(store->MarkTrialDone(trial.id));
  }
  if (result->status == TrialOutcome::kFailed) {
    ISTAR_RETURN_IF_ERROR(store->MarkTrialFailed(trial.id, result->error));
  }
  return result;
}

}  // namespace istar::trainer
