#include "trainer/internal/evaluate.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "base/status_macros.h"
#include "comm/communicator.h"

namespace istar::trainer::internal {
namespace {

at::Tensor ToTensor(const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<int64_t*>(values.data()), {rows, cols}, at::kLong).clone();
}

// Copies the first `length` values of `row` (as float32, on the host) to `out`.
void CopyRow(const at::Tensor& row, int64_t length, float* out) {
  const at::Tensor values = row.slice(0, 0, length).to(at::kCPU, at::kFloat).contiguous();
  std::copy_n(values.data_ptr<float>(), length, out);
}

}  // namespace

models::Batch ToModelBatch(const HostBatch& host, const at::Device& device) {
  return {.input_ids = ToTensor(host.input_ids, host.rows, host.cols).to(device),
          .attention_mask = ToTensor(host.attention_mask, host.rows, host.cols).to(device),
          .token_type_ids = ToTensor(host.token_type_ids, host.rows, host.cols).to(device)};
}

// Note [Sharded evaluation]
// Each rank fills only the entries of its own batches in buffers laid out for the whole split
// (one prediction per example; the logits of every feature's tokens one after another) and
// leaves the rest 0. An all-reduce sum then gives every rank every entry exactly, since x + 0 is
// x in floating point: the same predictions, bit for bit, as one process computing them all.
absl::StatusOr<tasks::Scores> EvaluateDev(models::TaskModel& model, const tasks::TaskData& dev,
                                          const std::vector<tasks::Feature>& features,
                                          int64_t pad_id, comm::Communicator& group) {
  at::NoGradGuard no_grad;
  model.module().eval();
  const at::Device device = model.module().parameters().front().device();
  const bool squad = dev.task == tasks::Task::kSquad;
  std::vector<double> predictions(dev.classification.size(), 0.0);
  // Where each feature's logits start in the flat start/end buffers (SQuAD).
  std::vector<size_t> offsets(features.size() + 1, 0);
  for (size_t f = 0; f < features.size(); ++f) {
    offsets[f + 1] = offsets[f] + (squad ? features[f].input_ids.size() : 0);
  }
  std::vector<float> start_logits(offsets.back(), 0.0f);
  std::vector<float> end_logits(offsets.back(), 0.0f);
  const auto count = static_cast<int64_t>(features.size());
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(count, kEvalBatchSize, 0, 0, false);
  for (size_t k = static_cast<size_t>(group.rank()); k < batches.size();
       k += static_cast<size_t>(group.size())) {
    const HostBatch host = Collate(features, batches[k], pad_id);
    const models::ModelOutput out = model.Forward(ToModelBatch(host, device));
    if (squad) {
      for (int64_t r = 0; r < host.rows; ++r) {
        const size_t offset = offsets[static_cast<size_t>(batches[k][r])];
        CopyRow(out.start_logits[r], host.lengths[r], start_logits.data() + offset);
        CopyRow(out.end_logits[r], host.lengths[r], end_logits.data() + offset);
      }
      continue;
    }
    const at::Tensor predicted = out.logits.argmax(-1).to(at::kCPU).contiguous();
    for (int64_t r = 0; r < host.rows; ++r) {
      predictions[static_cast<size_t>(host.example_indices[r])] =
          static_cast<double>(predicted[r].item<int64_t>());
    }
  }
  if (!squad) {
    ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(predictions)));
    return tasks::ScoreClassification(dev, std::vector<int64_t>(predictions.begin(), predictions.end()));
  }
  ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<float>(start_logits)));
  ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<float>(end_logits)));
  ISTAR_ASSIGN_OR_RETURN(std::vector<tasks::SquadPrediction> answers,
                         tasks::PostprocessSquad(dev, features, start_logits, end_logits));
  return tasks::ScoreSquad(dev, answers);
}

}  // namespace istar::trainer::internal
