// The LibTorch half of the task-kind adapter (tasks/adapter.h): the model head of a task kind and
// the summed task loss of a head's outputs. The trainer picks both from the adapter, never from a
// task's name.
#ifndef ISTAR_TRAINER_INTERNAL_TASK_HEAD_H_
#define ISTAR_TRAINER_INTERNAL_TASK_HEAD_H_

#include <ATen/core/Tensor.h>

#include "models/model.h"
#include "tasks/adapter.h"
#include "trainer/internal/batches.h"

namespace istar::trainer::internal {

// The models::Head of the adapter's head kind.
models::Head HeadOf(const tasks::TaskAdapter& adapter);

// Sum over the rows of the squared error (output - target)^2 of a regression head's outputs
// ([B, 1] or [B]) against the targets ([B], the outputs' dtype): Hugging Face's MSELoss of
// BertForSequenceClassification with num_labels = 1, summed instead of averaged (the step
// divides by the global batch, as for the other losses). TORCH_CHECKs that the sizes match.
at::Tensor RegressionLossSum(const at::Tensor& outputs, const at::Tensor& targets);

// The task loss of `out`, the model's outputs for the rows of `host`, summed over the rows and
// chosen by adapter.loss: cross-entropy of the logits against host.labels, squared error of the
// one output against host.scores, or the span loss against host.start_positions and
// host.end_positions (trainer/loss.h). The outputs are cast to `dtype` first (float32 after a
// bf16 forward) and the targets built on `device`. Throws c10::Error on a LibTorch failure.
at::Tensor TaskLossSum(const tasks::TaskAdapter& adapter, const models::ModelOutput& out,
                       const HostBatch& host, at::ScalarType dtype, const at::Device& device);

}  // namespace istar::trainer::internal

#endif  // ISTAR_TRAINER_INTERNAL_TASK_HEAD_H_
