// Tensors from host batches, and evaluation on a task's dev split (classification accuracy,
// SQuAD exact match and F1).
#ifndef ISTAR_TRAINER_INTERNAL_EVALUATE_H_
#define ISTAR_TRAINER_INTERNAL_EVALUATE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "models/model.h"
#include "tasks/task.h"
#include "trainer/internal/batches.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace istar::trainer::internal {

// The model's input tensors for `host` (int64 [rows, cols]) on `device`.
models::Batch ToModelBatch(const HostBatch& host, const at::Device& device);

// Batch size of evaluation and of the S0 estimate: no gradient, so it can exceed the trial's.
inline constexpr int64_t kEvalBatchSize = 64;

// Runs `model` in eval mode without gradient over `features` (built from `dev`) and scores it:
// ScoreClassification of the argmax labels, or ScoreSquad of PostprocessSquad's answers. The
// batches of kEvalBatchSize features are shared round-robin among the ranks of `group` (batch k
// on rank k % size, so every batch is padded as in one process), and the predictions, kept on
// the model's device, are summed over the ranks through `tensors` (the same ranks; NCCL on GPUs)
// (Note [Sharded evaluation]): every rank returns the same scores. A collective.
// Throws c10::Error on a LibTorch failure; the scorers' and the communicator's errors otherwise.
[[nodiscard]] absl::StatusOr<tasks::Scores> EvaluateDev(models::TaskModel& model,
                                                        const tasks::TaskData& dev,
                                                        const std::vector<tasks::Feature>& features,
                                                        int64_t pad_id, comm::Communicator& group,
                                                        comm::Communicator& tensors);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_EVALUATE_H_
