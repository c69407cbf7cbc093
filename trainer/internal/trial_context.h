// What the pieces of one trial's loop share (trainer/internal/loop.cc): the trial and its options,
// the worker group, the model on its device and the step counter. The loop owns one TrialContext
// and lends it by reference to its data, step, checkpoint and log pieces.
#ifndef ISTAR_TRAINER_INTERNAL_TRIAL_CONTEXT_H_
#define ISTAR_TRAINER_INTERNAL_TRIAL_CONTEXT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comm/communicator.h"
#include "regularizers/isotropy.h"
#include "sweeps/sweep.h"
#include "tasks/adapter.h"
#include "trainer/internal/checkpoint.h"
#include "trainer/trainer.h"

namespace istar::trainer::internal {

// Not thread-safe: the loop's thread alone uses it.
struct TrialContext {
  // Parses options.device (may throw c10::Error) and, with more than one rank, makes the
  // cross-rank sum of the regularizers over the tensor communicator.
  TrialContext(const sweeps::TrialSpec& trial, const RunOptions& options,
               comm::Communicator& group);
  TrialContext(const TrialContext&) = delete;
  TrialContext& operator=(const TrialContext&) = delete;

  bool leader() const { return group.rank() == 0; }
  // Epochs done, fractional: the `epoch` of the rows written now.
  double EpochPosition() const {
    return static_cast<double>(step) / static_cast<double>(steps_per_epoch);
  }
  // Sums `value` over the ranks (no collective with one rank).
  [[nodiscard]] absl::StatusOr<double> SumOverRanks(double value) const;
  // Runs `write` (a store write or a checkpoint) on rank 0 only, then makes its outcome the
  // group's: a collective.
  template <typename Write>
  [[nodiscard]] absl::Status OnLeader(Write write) const {
    return comm::AgreeOnStatus(group, leader() ? write() : absl::OkStatus());
  }

  const sweeps::TrialSpec trial;
  const RunOptions options;
  comm::Communicator& group;    // host memory: decisions, flags, generator states
  comm::Communicator& tensors;  // the tensors of the steps (NCCL on GPUs, else group)
  const at::Device device;
  std::unique_ptr<regularizers::CrossRankSum> owned_ranks;  // null with one rank
  const regularizers::CrossRankSum& ranks;                  // owned_ranks, or LocalSum()
  TrialModel model;
  // Head, outputs and loss, by the task's kind: the loop never names a task.
  tasks::TaskAdapter adapter;
  int64_t step = 0;  // optimizer steps taken, resumed ones included
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 1;
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TRIAL_CONTEXT_H_
