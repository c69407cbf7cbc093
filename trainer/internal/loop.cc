#include "trainer/internal/loop.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "tasks/adapter.h"
#include "tasks/task.h"
#include "torch_boundary/torch_boundary.h"
#include "trainer/data_parallel.h"
#include "trainer/internal/batches.h"
#include "trainer/internal/checkpoint.h"
#include "trainer/internal/final_measures.h"
#include "trainer/internal/step_runner.h"
#include "trainer/internal/task_head.h"
#include "trainer/internal/trial_checkpoints.h"
#include "trainer/internal/trial_context.h"
#include "trainer/internal/trial_data.h"
#include "trainer/internal/trial_log.h"

namespace istar::trainer::internal {
namespace {

std::vector<db::FinalResult> FinalResults(const SplitScores& splits) {
  std::vector<db::FinalResult> finals;
  for (const auto& [split, scores] : splits) {
    for (const auto& [name, value] : scores) {
      finals.push_back({.split = split, .name = name, .value = value});
    }
  }
  return finals;
}

// Note [One trial on a worker group]
// Every rank of the group runs this loop in lockstep (docs/training.md, "Worker groups"): the
// same global batches from the same shuffle, each rank training on its shard of each (ShardOf);
// the regularizer and the logged measures span every rank's points; the gradients are averaged
// before the optimizer step, so every rank holds the same weights throughout. Rank 0 alone writes
// the rows (to the ResultSink) and the checkpoints and reports progress. Anything that could go
// differently on one rank (a row write, a checkpoint, a regularizer's verdict) is made the group's
// decision with AgreeOnStatus or a reduced flag, so that all ranks issue the same collectives and
// stop together. With one rank every collective is skipped and the loop is the one-process trainer.
//
// The loop coordinates four pieces that share one TrialContext (the trial, the group, the model,
// the step counter): TrialData (the splits and their features), StepRunner (S0, the forward
// passes and the optimizer step), TrialCheckpoints (the resume point, the checkpoints written)
// and TrialLog (rows, evaluation, progress). It alone decides the order of their collectives.
class Loop final : public TrialLoop {
 public:
  Loop(const sweeps::TrialSpec& trial, const RunOptions& options, comm::Communicator& group)
      : ctx_(trial, options, group), steps_(ctx_, data_), checkpoints_(ctx_), log_(ctx_, data_) {}

  // What each rank does on its own: data, model, optimizer, its view of the checkpoints.
  absl::Status Init();
  // Collectives: agree on the resume point, broadcast rank 0's weights.
  absl::Status Synchronize();
  absl::StatusOr<TrialResult> Run(ResultSink* sink) override;

 private:
  // One optimizer step, its train rows when `log`, then ctx_.step advanced. A collective.
  absl::StatusOr<StepReport> Step(std::span<const int64_t> indices, bool log, ResultSink* sink);

  TrialContext ctx_;
  TrialData data_;  // loaded by Init
  StepRunner steps_;
  TrialCheckpoints checkpoints_;
  TrialLog log_;
};

absl::Status Loop::Init() {
  const sweeps::TrialSpec& trial = ctx_.trial;
  const std::optional<tasks::Task> task = tasks::ParseTask(trial.task);
  if (!task.has_value()) return absl::InvalidArgumentError("unknown task: " + trial.task);
  ctx_.adapter = tasks::AdapterOf(*task);
  at::manual_seed(static_cast<uint64_t>(trial.seed));
  ISTAR_ASSIGN_OR_RETURN(
      ctx_.model, LoadTrialModel(trial.model_path, HeadOf(ctx_.adapter), ctx_.adapter.num_outputs,
                                 static_cast<uint64_t>(trial.seed)));
  if (ctx_.options.float64) ctx_.model.model->module().to(at::kDouble);
  if (ctx_.device.is_cuda()) {
    if (!at::hasCUDA()) {
      return absl::FailedPreconditionError(
          absl::StrCat("device ", ctx_.options.device,
                       ": this LibTorch has no CUDA (Debian's is CPU-only; see "
                       "docs/building.md, \"The GPU build\")"));
    }
    ctx_.model.model->module().to(ctx_.device);
  }
  ISTAR_ASSIGN_OR_RETURN(data_, TrialData::Load(trial, *task, *ctx_.model.tokenizer));
  const auto features = static_cast<int64_t>(data_.train_features().size());
  ctx_.steps_per_epoch = (features + trial.batch_size - 1) / trial.batch_size;
  ctx_.total_steps = ctx_.steps_per_epoch * trial.epochs;
  ISTAR_RETURN_IF_ERROR(steps_.Init());
  return checkpoints_.Restore(steps_.optimizer());
}

absl::Status Loop::Synchronize() {
  if (ctx_.group.size() == 1) return absl::OkStatus();
  ISTAR_RETURN_IF_ERROR(checkpoints_.AgreeOnResumePoint());
  ISTAR_RETURN_IF_ERROR(BroadcastModule(ctx_.tensors, ctx_.model.model->module()));
  steps_.AverageGradientsOverRanks();
  return absl::OkStatus();
}

absl::StatusOr<StepReport> Loop::Step(std::span<const int64_t> indices, bool log,
                                      ResultSink* sink) {
  ISTAR_ASSIGN_OR_RETURN(StepReport report, steps_.Step(indices, log));
  if (report.divergence.has_value()) return report;
  if (log) {
    ISTAR_RETURN_IF_ERROR(
        log_.LogStep(report.cloud, report.loss, report.lr, steps_.shrinkage(), sink));
  }
  ++ctx_.step;
  log_.CountExamples(report.global_rows);
  return report;
}

absl::StatusOr<TrialResult> Loop::Run(ResultSink* sink) {
  const sweeps::TrialSpec& trial = ctx_.trial;
  TrialResult result;
  const int64_t every = std::max<int64_t>(1, trial.training.isotropy_every_steps);
  const int64_t eval_every = trial.training.eval_every_steps;
  const int64_t start_epoch = checkpoints_.start_epoch();
  for (int64_t epoch = start_epoch; epoch < trial.epochs; ++epoch) {
    // Batches of this epoch already taken before a preemption checkpoint (Note [Preemption
    // checkpoints] in checkpoint.cc): skipped, and the epoch's S0s are the saved ones.
    const int64_t done_in_epoch =
        epoch == start_epoch ? ctx_.step - epoch * ctx_.steps_per_epoch : 0;
    log_.StartEpoch();
    ISTAR_RETURN_IF_ERROR(steps_.StartEpoch(
        epoch, done_in_epoch > 0 ? checkpoints_.resumed_shrinkage() : EpochShrinkage()));
    const std::vector<std::vector<int64_t>> batches =
        EpochBatches(static_cast<int64_t>(data_.train_features().size()), trial.batch_size,
                     trial.seed, epoch, true);
    for (auto b = static_cast<size_t>(done_in_epoch); b < batches.size(); ++b) {
      const bool stop = ctx_.options.should_stop && ctx_.options.should_stop();
      ISTAR_ASSIGN_OR_RETURN(const double stopping_ranks, ctx_.SumOverRanks(stop ? 1.0 : 0.0));
      if (stopping_ranks > 0) {
        ISTAR_RETURN_IF_ERROR(
            checkpoints_.SaveOnStop(epoch, steps_.optimizer(), steps_.shrinkage(), sink));
        return TrialResult{.status = TrialOutcome::kStopped, .steps = ctx_.step};
      }
      const bool log = ctx_.step % every == 0 || b + 1 == batches.size();
      ISTAR_ASSIGN_OR_RETURN(const StepReport report, Step(batches[b], log, sink));
      if (report.divergence.has_value()) {
        return TrialResult{
            .status = TrialOutcome::kFailed, .error = *report.divergence, .steps = ctx_.step};
      }
      if (eval_every > 0 && ctx_.step % eval_every == 0) {
        ISTAR_RETURN_IF_ERROR(log_.Evaluate(sink).status());
      }
      log_.ReportProgress(epoch, report.total);
    }
    ISTAR_ASSIGN_OR_RETURN(result.split_metrics, log_.Evaluate(sink));
    ISTAR_RETURN_IF_ERROR(log_.LogPeakGpuMemory(sink));
    ISTAR_RETURN_IF_ERROR(checkpoints_.SaveEpoch(epoch, steps_.optimizer(), sink));
  }
  if (result.split_metrics.empty()) {  // resumed after the last epoch's checkpoint
    ISTAR_ASSIGN_OR_RETURN(result.split_metrics, log_.Evaluate(sink));
  }
  // The first evaluation split's scores ("validation").
  result.final_metrics = result.split_metrics.at(data_.eval_splits().front().stored_name);
  // The end-of-training isotropy measures, stored beside the task metrics (not in final_metrics).
  std::vector<db::FinalResult> finals = FinalResults(result.split_metrics);
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::FinalResult> measures,
                         FinalIsotropyMeasures(ctx_, data_));
  finals.insert(finals.end(), measures.begin(), measures.end());
  ISTAR_RETURN_IF_ERROR(ctx_.OnLeader([&] { return sink->WriteFinalResults(trial.id, finals); }));
  result.status = TrialOutcome::kDone;
  result.steps = ctx_.step;
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrialLoop>> TrialLoop::Create(const sweeps::TrialSpec& trial,
                                                             const RunOptions& options,
                                                             comm::Communicator& group) {
  auto loop = std::make_unique<Loop>(trial, options, group);
  ISTAR_RETURN_IF_ERROR(
      comm::AgreeOnStatus(group, CatchTorch("LibTorch", [&] { return loop->Init(); })));
  ISTAR_RETURN_IF_ERROR(loop->Synchronize());
  return std::unique_ptr<TrialLoop>(std::move(loop));
}

}  // namespace istar::trainer::internal
