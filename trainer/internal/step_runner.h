// The optimizer steps of one trial: the forward passes of a global batch's shard, the task loss
// plus the regularizer term, the gradient average over the ranks, clipping and AdamW; and the
// epoch's S0s at its start (docs/training.md, "The loop").
#ifndef ISTAR_TRAINER_INTERNAL_STEP_RUNNER_H_
#define ISTAR_TRAINER_INTERNAL_STEP_RUNNER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/data_parallel.h"
#include "trainer/internal/epoch_shrinkage.h"
#include "trainer/internal/trial_context.h"
#include "trainer/internal/trial_data.h"
#include "trainer/loss.h"
#include "trainer/step.h"

namespace torch::optim {
class AdamW;
class Optimizer;
}  // namespace torch::optim

namespace istar::trainer::internal {

// What one call of StepRunner::Step did.
struct StepReport {
  // A divergence message ("diverged: ..."); when set, no optimizer step was taken and nothing
  // below is.
  std::optional<std::string> divergence;
  StepLoss loss;       // detached
  double total = 0.0;  // loss.total's value, the same on every rank
  // This rank's points of the step: every layer when logging, else (when regularized) the
  // regularizer's layers.
  PointCloud cloud;
  double lr = 0.0;          // the learning rate the optimizer step used
  int64_t global_rows = 0;  // examples in the step, over all ranks
};

// Uses `ctx` and `data`, which must outlive it. StartEpoch and Step are collectives over
// ctx.group and ctx.tensors; any method may throw c10::Error.
class StepRunner {
 public:
  StepRunner(TrialContext& ctx, const TrialData& data);
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;
  ~StepRunner();

  // On each rank alone, once the model is loaded and ctx.total_steps known: checks the
  // regularizer (CheckTrainable), resolves its layers (InvalidArgument out of range) and builds
  // the optimizer.
  [[nodiscard]] absl::Status Init();
  // From now on the gradients are averaged over ctx.tensors (more than one rank, after the
  // weights were broadcast).
  void AverageGradientsOverRanks();
  // At the start of epoch `epoch` (0-based): the epoch's S0s (EpochShrinkage: the regularizer's
  // when it needs one, every layer's and the all-layer union's when training.evaluation_zeta > 0),
  // those of `resumed` (a preemption checkpoint's) when it holds them all, else estimated afresh
  // (Note [Shrinkage at epoch start]); a resumed regularizer S0 wins over a fresh one.
  [[nodiscard]] absl::Status StartEpoch(int64_t epoch, const EpochShrinkage& resumed);
  // One optimizer step over the global batch `indices` (training rows), of which this rank
  // trains on its shard; `log` asks for the step's point cloud. Does not advance ctx.step.
  // A divergence is a StepReport; a Status is an error of the regularizers or the communicator.
  [[nodiscard]] absl::StatusOr<StepReport> Step(std::span<const int64_t> indices, bool log);

  torch::optim::Optimizer& optimizer();
  const RegularizerSettings& regularizer() const { return regularizer_; }
  // The S0s of the current epoch (set by StartEpoch).
  const EpochShrinkage& shrinkage() const { return shrinkage_; }

 private:
  // The forward pass of a step over `indices` (training rows, never empty): its summed task loss
  // and, `with_cloud`, its point cloud: of every layer when `log`, else of the regularizer's.
  absl::StatusOr<MicroBatchOutput> Forward(std::span<const int64_t> indices, bool with_cloud,
                                           bool log);
  absl::Status EstimateShrinkage(int64_t epoch);
  // The feature indices the epoch's S0s are estimated from, in batches of kEvalBatchSize.
  std::vector<std::vector<int64_t>> ShrinkageBatches(int64_t epoch) const;

  TrialContext& ctx_;
  const TrialData& data_;
  std::unique_ptr<GradientAverager> averager_;  // null with one rank
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<int64_t> layers_;      // the regularizer's
  std::vector<int64_t> all_layers_;  // 1..L: the logged measures'
  RegularizerSettings regularizer_;
  EpochShrinkage shrinkage_;
  int64_t warmup_steps_ = 0;
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_STEP_RUNNER_H_
