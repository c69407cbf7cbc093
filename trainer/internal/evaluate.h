// Tensors from host batches, and evaluation on one of a task's evaluation splits (the task's
// catalogue metrics, chosen by its kind).
#ifndef ISTAR_TRAINER_INTERNAL_EVALUATE_H_
#define ISTAR_TRAINER_INTERNAL_EVALUATE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "models/model.h"
#include "tasks/adapter.h"
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

// Runs `model` in eval mode without gradient over `features` (built from `data`, one evaluation
// split) and scores it by the task's kind (tasks/adapter.h): a sequence-classification head's
// outputs, one row of adapter.num_outputs per example, go to tasks::ScoreSequenceOutputs (the
// argmax of a classification task, the value of a regression task); a question-answering head's
// start and end logits to tasks::ScoreSpanOutputs. Every metric of the task's catalogue row is
// returned. The batches of kEvalBatchSize features are shared round-robin among the ranks of
// `group` (batch k on rank k % size, so every batch is padded as in one process), and the
// outputs, kept on the model's device, are summed over the ranks through `tensors` (the same
// ranks; NCCL on GPUs) (Note [Sharded evaluation]): every rank returns the same scores. A
// collective. Throws c10::Error on a LibTorch failure; the scorers' and the communicator's
// errors otherwise.
[[nodiscard]] absl::StatusOr<tasks::Scores> EvaluateSplit(
    models::TaskModel& model, const tasks::TaskAdapter& adapter, const tasks::TaskData& data,
    const std::vector<tasks::Feature>& features, int64_t pad_id, comm::Communicator& group,
    comm::Communicator& tensors);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_EVALUATE_H_
