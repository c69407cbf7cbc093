#include "trainer/internal/evaluate.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "base/status_macros.h"
#include "comm/communicator.h"
#include "regularizers/tensor_collectives.h"

namespace istar::trainer::internal {
namespace {

at::Tensor ToTensor(const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<int64_t*>(values.data()), {rows, cols}, at::kLong).clone();
}

// The values of a host tensor as a vector.
template <typename T>
std::vector<T> ToVector(const at::Tensor& tensor) {
  const at::Tensor host = tensor.to(at::kCPU).contiguous();
  return std::vector<T>(host.data_ptr<T>(), host.data_ptr<T>() + host.numel());
}

}  // namespace

models::Batch ToModelBatch(const HostBatch& host, const at::Device& device) {
  return {.input_ids = ToTensor(host.input_ids, host.rows, host.cols).to(device),
          .attention_mask = ToTensor(host.attention_mask, host.rows, host.cols).to(device),
          .token_type_ids = ToTensor(host.token_type_ids, host.rows, host.cols).to(device)};
}

// Note [Sharded evaluation]
// Each rank fills only the entries of its own batches in buffers laid out for the whole split
// (one row of outputs per example; the logits of every feature's tokens one after another) and
// leaves the rest 0. An all-reduce sum then gives every rank every entry exactly, since x + 0 is
// x in floating point: the same outputs, bit for bit, as one process computing them all.
absl::StatusOr<tasks::Scores> EvaluateSplit(models::TaskModel& model,
                                            const tasks::TaskAdapter& adapter,
                                            const tasks::TaskData& data,
                                            const std::vector<tasks::Feature>& features,
                                            int64_t pad_id, comm::Communicator& group,
                                            comm::Communicator& tensors) {
  at::NoGradGuard no_grad;
  model.module().eval();
  const at::Device device = model.module().parameters().front().device();
  const bool spans = adapter.head == tasks::HeadKind::kQuestionAnswering;
  const auto on_device = [&](at::ScalarType dtype) {
    return at::TensorOptions(dtype).device(device);
  };
  // Sequence heads: [examples, num_outputs] in double (exact for float32 and float64 outputs).
  at::Tensor outputs =
      at::zeros({spans ? 0 : static_cast<int64_t>(data.classification.size()), adapter.num_outputs},
                on_device(at::kDouble));
  // Where each feature's logits start in the flat start/end buffers (question answering).
  std::vector<int64_t> offsets(features.size() + 1, 0);
  for (size_t f = 0; f < features.size(); ++f) {
    offsets[f + 1] = offsets[f] + (spans ? static_cast<int64_t>(features[f].input_ids.size()) : 0);
  }
  at::Tensor start_logits = at::zeros({offsets.back()}, on_device(at::kFloat));
  at::Tensor end_logits = at::zeros({offsets.back()}, on_device(at::kFloat));
  const auto count = static_cast<int64_t>(features.size());
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(count, kEvalBatchSize, 0, 0, false);
  for (size_t k = static_cast<size_t>(group.rank()); k < batches.size();
       k += static_cast<size_t>(group.size())) {
    const HostBatch host = Collate(features, batches[k], pad_id);
    const models::ModelOutput out = model.Forward(ToModelBatch(host, device));
    if (spans) {
      for (int64_t r = 0; r < host.rows; ++r) {
        const int64_t offset = offsets[static_cast<size_t>(batches[k][r])];
        const int64_t length = host.lengths[r];
        start_logits.narrow(0, offset, length).copy_(out.start_logits[r].slice(0, 0, length));
        end_logits.narrow(0, offset, length).copy_(out.end_logits[r].slice(0, 0, length));
      }
      continue;
    }
    const at::Tensor rows = at::tensor(host.example_indices, at::kLong).to(device);
    outputs.index_copy_(0, rows, out.logits.reshape({host.rows, -1}).to(at::kDouble));
  }
  if (!spans) {
    ISTAR_RETURN_IF_ERROR(regularizers::AllReduceSum(tensors, outputs));
    return tasks::ScoreSequenceOutputs(data, ToVector<double>(outputs));
  }
  ISTAR_RETURN_IF_ERROR(regularizers::AllReduceSum(tensors, start_logits));
  ISTAR_RETURN_IF_ERROR(regularizers::AllReduceSum(tensors, end_logits));
  return tasks::ScoreSpanOutputs(data, features, ToVector<float>(start_logits),
                                 ToVector<float>(end_logits));
}

}  // namespace istar::trainer::internal
