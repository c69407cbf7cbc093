// The checkpoints of one trial (docs/training.md, "Checkpoint layout"): where it resumes, the
// ranks' agreement on that point, and the epoch and preemption checkpoints it writes under
// <RunOptions::checkpoint_dir>/<trial id>/ (rank 0 alone writes; every rank restores).
#ifndef ISTAR_TRAINER_INTERNAL_TRIAL_CHECKPOINTS_H_
#define ISTAR_TRAINER_INTERNAL_TRIAL_CHECKPOINTS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/internal/checkpoint.h"
#include "trainer/internal/epoch_shrinkage.h"
#include "trainer/internal/trial_context.h"
#include "trainer/trainer.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace istar::trainer::internal {

// Uses `ctx`, which must outlive it. With an empty RunOptions::checkpoint_dir it restores and
// writes nothing. May throw c10::Error.
class TrialCheckpoints {
 public:
  explicit TrialCheckpoints(TrialContext& ctx) : ctx_(ctx) {}
  TrialCheckpoints(const TrialCheckpoints&) = delete;
  TrialCheckpoints& operator=(const TrialCheckpoints&) = delete;

  // On each rank alone, once the model and `optimizer` are built and ctx.steps_per_epoch known:
  // restores the latest checkpoint this rank sees into them and sets ctx.step. DataLoss when it
  // does not fit the trial; RestoreLatestCheckpoint's errors.
  [[nodiscard]] absl::Status Restore(torch::optim::Optimizer& optimizer);
  // Makes every rank resume from rank 0's point (FailedPrecondition, agreed, where one differs).
  // A collective over ctx.group.
  [[nodiscard]] absl::Status AgreeOnResumePoint();
  // After epoch `epoch` (0-based) ends: the epoch checkpoint of ctx.model and `optimizer`. A
  // collective; rank 0 writes, and its error is the group's.
  [[nodiscard]] absl::Status SaveEpoch(int64_t epoch, torch::optim::Optimizer& optimizer,
                                       ResultSink* sink);
  // On a stop request inside epoch `epoch`: a preemption checkpoint of the steps taken since the
  // last checkpoint, with the epoch's S0s `shrinkage` (those defined), when
  // RunOptions::checkpoint_on_stop says so on rank 0. A collective.
  [[nodiscard]] absl::Status SaveOnStop(int64_t epoch, torch::optim::Optimizer& optimizer,
                                        const EpochShrinkage& shrinkage, ResultSink* sink);

  // The epoch the run starts in (0, or the restored checkpoint's).
  int64_t start_epoch() const { return start_epoch_; }
  // The S0s of a preemption checkpoint's epoch; none defined when none was restored.
  const EpochShrinkage& resumed_shrinkage() const { return resumed_shrinkage_; }

 private:
  // Rank 0: the sink's rows stored (ResultSink::Sync), then the checkpoint written; skipped
  // (OK) while rows cannot be delivered.
  absl::Status Checkpoint(const CheckpointState& state, torch::optim::Optimizer& optimizer,
                          const EpochShrinkage* shrinkage, const GeneratorStates& generators,
                          ResultSink* sink);
  // Every rank's CPU (and GPU) generator state on every rank, for a checkpoint. A collective
  // (Note [Generators of a worker group] in checkpoint.cc).
  absl::StatusOr<GeneratorStates> GatherGenerators();
  // Every rank's state of its `device` generator, [R, S] uint8. A collective.
  absl::StatusOr<at::Tensor> GatherRngState(const at::Device& device);

  TrialContext& ctx_;
  std::string trial_dir_;    // empty: no checkpoints
  int64_t saved_step_ = -1;  // ctx.step of the last checkpoint written or restored
  EpochShrinkage resumed_shrinkage_;
  int64_t start_epoch_ = 0;
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TRIAL_CHECKPOINTS_H_
