#include "trainer/internal/evaluate.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "base/status_macros.h"

namespace istar::trainer::internal {
namespace {

at::Tensor ToTensor(const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<int64_t*>(values.data()), {rows, cols}, at::kLong).clone();
}

// Appends the first `length` values of `row` (float32) to `out`.
void AppendRow(const at::Tensor& row, int64_t length, std::vector<float>& out) {
  const at::Tensor values = row.slice(0, 0, length).to(at::kFloat).contiguous();
  const float* data = values.data_ptr<float>();
  out.insert(out.end(), data, data + length);
}

}  // namespace

models::Batch ToModelBatch(const HostBatch& host) {
  return {.input_ids = ToTensor(host.input_ids, host.rows, host.cols),
          .attention_mask = ToTensor(host.attention_mask, host.rows, host.cols),
          .token_type_ids = ToTensor(host.token_type_ids, host.rows, host.cols)};
}

absl::StatusOr<tasks::Scores> EvaluateDev(models::TaskModel& model, const tasks::TaskData& dev,
                                          const std::vector<tasks::Feature>& features,
                                          int64_t pad_id) {
  at::NoGradGuard no_grad;
  model.module().eval();
  const bool squad = dev.task == tasks::Task::kSquad;
  std::vector<int64_t> predictions(dev.classification.size(), 0);
  std::vector<float> start_logits;
  std::vector<float> end_logits;
  const auto count = static_cast<int64_t>(features.size());
  for (const std::vector<int64_t>& indices : EpochBatches(count, kEvalBatchSize, 0, 0, false)) {
    const HostBatch host = Collate(features, indices, pad_id);
    const models::ModelOutput out = model.Forward(ToModelBatch(host));
    if (squad) {
      for (int64_t r = 0; r < host.rows; ++r) {
        AppendRow(out.start_logits[r], host.lengths[r], start_logits);
        AppendRow(out.end_logits[r], host.lengths[r], end_logits);
      }
      continue;
    }
    const at::Tensor predicted = out.logits.argmax(-1).contiguous();
    for (int64_t r = 0; r < host.rows; ++r) {
      predictions[static_cast<size_t>(host.example_indices[r])] = predicted[r].item<int64_t>();
    }
  }
  if (!squad) return tasks::ScoreClassification(dev, predictions);
  ISTAR_ASSIGN_OR_RETURN(std::vector<tasks::SquadPrediction> answers,
                         tasks::PostprocessSquad(dev, features, start_logits, end_logits));
  return tasks::ScoreSquad(dev, answers);
}

}  // namespace istar::trainer::internal
