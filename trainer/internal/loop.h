// The training loop of one trial (docs/training.md). The header is LibTorch-free so that
// trainer.cc, the one LibTorch boundary of RunTrial, stays cheap to compile; loop.cc and the
// pieces it coordinates (trial_data.h, step_runner.h, trial_checkpoints.h, trial_log.h) hold the
// LibTorch code and may throw c10::Error from any method.
#ifndef ISTAR_TRAINER_INTERNAL_LOOP_H_
#define ISTAR_TRAINER_INTERNAL_LOOP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "sweeps/sweep.h"
#include "trainer/trainer.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace istar::trainer::internal {

class TrialLoop {
 public:
  // Reads the task data, loads the model, builds the optimizer and restores the latest
  // checkpoint on every rank of `group`, then makes the ranks agree (AgreeOnStatus): on success,
  // that they resume from the same step, and rank 0's weights are broadcast. A collective. The
  // errors of RunTrial's "cannot start" list, the same on every rank.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TrialLoop>> Create(
      const sweeps::TrialSpec& trial, const RunOptions& options, comm::Communicator& group);
  virtual ~TrialLoop() = default;

  // Trains the remaining epochs. Rank 0 writes rows to `sink`; the other ranks pass null. A
  // divergence is a TrialResult with status "failed" on every rank; a Status is an error of the
  // sink, of the regularizers or of the communicator. May throw c10::Error.
  [[nodiscard]] virtual absl::StatusOr<TrialResult> Run(ResultSink* sink) = 0;
};

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_LOOP_H_
