#include "trainer/internal/task_head.h"

#include <ATen/ATen.h>

#include "trainer/loss.h"

namespace istar::trainer::internal {

models::Head HeadOf(const tasks::TaskAdapter& adapter) {
  return adapter.head == tasks::HeadKind::kQuestionAnswering
             ? models::Head::kQuestionAnswering
             : models::Head::kSequenceClassification;
}

at::Tensor RegressionLossSum(const at::Tensor& outputs, const at::Tensor& targets) {
  const at::Tensor flat = outputs.reshape({-1});
  TORCH_CHECK(flat.size(0) == targets.numel(), "a regression head gave ", flat.size(0),
              " outputs for ", targets.numel(), " targets");
  return (flat - targets.reshape({-1})).pow(2).sum();
}

at::Tensor TaskLossSum(const tasks::TaskAdapter& adapter, const models::ModelOutput& out,
                       const HostBatch& host, at::ScalarType dtype, const at::Device& device) {
  const auto on_device = [&](const std::vector<int64_t>& values) {
    return at::tensor(values).to(device);
  };
  switch (adapter.loss) {
    case tasks::LossKind::kSpan:
      return SpanLossSum(out.start_logits.to(dtype), out.end_logits.to(dtype),
                         on_device(host.start_positions), on_device(host.end_positions));
    case tasks::LossKind::kMeanSquaredError:
      return RegressionLossSum(out.logits.to(dtype),
                               at::tensor(host.scores, at::kDouble).to(device, dtype));
    case tasks::LossKind::kCrossEntropy:
      break;
  }
  return ClassificationLossSum(out.logits.to(dtype), on_device(host.labels));
}

}  // namespace istar::trainer::internal
