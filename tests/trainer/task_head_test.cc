// The LibTorch half of the task-kind adapter: the head of each kind and the task loss of a
// head's outputs, against hand computations.
#include "trainer/internal/task_head.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "trainer/loss.h"

namespace istar::trainer::internal {
namespace {

// A host batch of `rows` rows whose only meaningful fields are the targets.
HostBatch Targets(std::vector<int64_t> labels, std::vector<double> scores,
                  std::vector<int64_t> starts = {}, std::vector<int64_t> ends = {}) {
  HostBatch host;
  host.rows = static_cast<int64_t>(std::max(labels.size(), scores.size()));
  host.labels = std::move(labels);
  host.scores = std::move(scores);
  host.start_positions = std::move(starts);
  host.end_positions = std::move(ends);
  return host;
}

TEST(HeadOf, SpanExtractionTakesTheQuestionAnsweringHeadAndEveryOtherKindASequenceHead) {
  EXPECT_EQ(HeadOf(tasks::AdapterOf(tasks::Task::kSquad)), models::Head::kQuestionAnswering);
  for (tasks::Task task : {tasks::Task::kSst2, tasks::Task::kCola, tasks::Task::kMnli,
                           tasks::Task::kStsb, tasks::Task::kQqp}) {
    EXPECT_EQ(HeadOf(tasks::AdapterOf(task)), models::Head::kSequenceClassification)
        << tasks::TaskName(task);
  }
}

// (1.5 − 1)² + (0 − 2)² + (3 − 3)² = 0.25 + 4 + 0 = 4.25; its gradient 2 (output − target).
TEST(RegressionLossSum, IsTheSumOfSquaredErrorsWithItsGradient) {
  const at::Tensor outputs =
      at::tensor(std::vector<double>{1.5, 0.0, 3.0}, at::kDouble).reshape({3, 1}).requires_grad_();
  const at::Tensor targets = at::tensor(std::vector<double>{1.0, 2.0, 3.0}, at::kDouble);
  const at::Tensor loss = RegressionLossSum(outputs, targets);
  EXPECT_DOUBLE_EQ(loss.item<double>(), 4.25);
  loss.backward();
  const at::Tensor grad = outputs.grad().reshape({-1});
  EXPECT_DOUBLE_EQ(grad[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(grad[1].item<double>(), -4.0);
  EXPECT_DOUBLE_EQ(grad[2].item<double>(), 0.0);
  // Divided by the rows it is Hugging Face's MSELoss (mean reduction).
  EXPECT_DOUBLE_EQ(at::mse_loss(outputs.reshape({-1}), targets).item<double>() * 3,
                   loss.item<double>());
}

TEST(TaskLossSum, RegressionUsesTheScoresOfTheBatch) {
  models::ModelOutput out;
  out.logits = at::tensor(std::vector<float>{2.0F, 4.5F}).reshape({2, 1});
  const HostBatch host = Targets({-1, -1}, {3.0, 4.0});
  const at::Tensor loss =
      TaskLossSum(tasks::AdapterOf(tasks::Task::kStsb), out, host, at::kDouble, at::kCPU);
  EXPECT_EQ(loss.scalar_type(), at::kDouble);
  EXPECT_DOUBLE_EQ(loss.item<double>(), 1.0 + 0.25);
}

TEST(TaskLossSum, ClassificationIsTheCrossEntropyOfTheLabels) {
  models::ModelOutput out;
  out.logits = at::tensor(std::vector<float>{0.1F, 0.7F, -0.2F, 1.0F, 0.0F, 0.3F}).reshape({2, 3});
  const HostBatch host = Targets({2, 0}, {0.0, 0.0});
  const at::Tensor loss =
      TaskLossSum(tasks::AdapterOf(tasks::Task::kMnli), out, host, at::kFloat, at::kCPU);
  // −log softmax([0.1, 0.7, −0.2])[2] − log softmax([1, 0, 0.3])[0], by hand.
  const double first = -(-0.2 - std::log(std::exp(0.1) + std::exp(0.7) + std::exp(-0.2)));
  const double second = -(1.0 - std::log(std::exp(1.0) + std::exp(0.0) + std::exp(0.3)));
  EXPECT_NEAR(loss.item<double>(), first + second, 1e-5);
}

TEST(TaskLossSum, SpanExtractionIsTheSpanLoss) {
  models::ModelOutput out;
  out.start_logits = at::tensor(std::vector<float>{0.0F, 2.0F, 1.0F, 0.5F}).reshape({1, 4});
  out.end_logits = at::tensor(std::vector<float>{1.0F, 0.0F, 3.0F, 0.0F}).reshape({1, 4});
  const HostBatch host = Targets({-1}, {0.0}, {1}, {2});
  const at::Tensor loss =
      TaskLossSum(tasks::AdapterOf(tasks::Task::kSquad), out, host, at::kFloat, at::kCPU);
  const at::Tensor expected =
      SpanLossSum(out.start_logits, out.end_logits, at::tensor(std::vector<int64_t>{1}),
                  at::tensor(std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(loss.item<float>(), expected.item<float>());
}

}  // namespace
}  // namespace istar::trainer::internal
