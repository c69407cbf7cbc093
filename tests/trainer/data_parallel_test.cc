// The data-parallel pieces in a group of one (the multi-rank behaviour is in
// data_parallel_mpi_test.cc): shards, the per-rank loss, and averaging that changes nothing.
#include "trainer/data_parallel.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "comm/communicator.h"
#include "trainer/loss.h"

namespace istar::trainer {
namespace {

TEST(ShardOf, SplitsContiguouslyWithTheFirstRanksTakingTheRemainder) {
  EXPECT_EQ(ShardOf(10, 0, 3).begin, 0);
  EXPECT_EQ(ShardOf(10, 0, 3).end, 4);
  EXPECT_EQ(ShardOf(10, 1, 3).begin, 4);
  EXPECT_EQ(ShardOf(10, 1, 3).end, 7);
  EXPECT_EQ(ShardOf(10, 2, 3).begin, 7);
  EXPECT_EQ(ShardOf(10, 2, 3).end, 10);
}

TEST(ShardOf, RanksBeyondTheRowsGetNone) {
  EXPECT_EQ(ShardOf(1, 0, 2).rows(), 1);
  EXPECT_EQ(ShardOf(1, 1, 2).rows(), 0);
  EXPECT_EQ(ShardOf(0, 0, 4).rows(), 0);
}

TEST(ShardOf, ShardsCoverEveryRowOnceWithSizesWithinOne) {
  for (int64_t rows = 0; rows <= 40; ++rows) {
    for (int size = 1; size <= 8; ++size) {
      int64_t next = 0;
      for (int rank = 0; rank < size; ++rank) {
        const Shard shard = ShardOf(rows, rank, size);
        EXPECT_EQ(shard.begin, next) << rows << " rows, rank " << rank << " of " << size;
        EXPECT_GE(shard.rows(), rows / size);
        EXPECT_LE(shard.rows(), rows / size + 1);
        next = shard.end;
      }
      EXPECT_EQ(next, rows);
    }
  }
}

TEST(ComputeStepLoss, OneProcessIsTheMeanTaskLossPlusTheRegularizer) {
  const at::Tensor logits = at::randn({6, 3}, at::kDouble);
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 2, 1, 1, 0, 2});
  PointCloud cloud{.points = at::randn({20, 4}, at::kDouble), .tokens = 20, .layers = {1}};
  const RegularizerSettings cosreg{.name = "cosreg", .lambda = 0.5};
  absl::StatusOr<StepLoss> loss =
      ComputeStepLoss(ClassificationLossSum(logits, labels), 6, cloud, cosreg);
  ASSERT_TRUE(loss.ok()) << loss.status();
  absl::StatusOr<StepLoss> reference =
      AddRegularizer(ClassificationLoss(logits, labels), cloud, cosreg);
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_NEAR(loss->task.item<double>(), reference->task.item<double>(), 1e-14);
  EXPECT_NEAR(loss->regularizer.item<double>(), reference->regularizer.item<double>(), 1e-15);
  EXPECT_NEAR(loss->total.item<double>(), reference->total.item<double>(), 1e-14);
  EXPECT_TRUE(loss->objective.is_same(loss->total));
}

TEST(SpanLossSum, IsTheBatchSizeTimesTheSpanLoss) {
  const at::Tensor start = at::randn({5, 7}, at::kDouble);
  const at::Tensor end = at::randn({5, 7}, at::kDouble);
  const at::Tensor starts = at::tensor(std::vector<int64_t>{0, 1, 2, 3, 4});
  const at::Tensor ends = at::tensor(std::vector<int64_t>{1, 1, 6, 3, 5});
  EXPECT_NEAR(SpanLossSum(start, end, starts, ends).item<double>(),
              5.0 * SpanLoss(start, end, starts, ends).item<double>(), 1e-13);
}

TEST(GradientAverager, GroupOfOneLeavesGradientsAsTheyAre) {
  comm::LocalCommunicator local;
  torch::nn::Linear linear(4, 3);
  linear->to(at::kDouble);
  linear->forward(at::randn({2, 4}, at::kDouble)).sum().backward();
  const at::Tensor weight_grad = linear->weight.grad().clone();
  linear->bias.mutable_grad() = at::Tensor();  // as if the bias got no gradient
  GradientAverager averager(local, linear->parameters(), {.bucket_bytes = 64});
  EXPECT_EQ(averager.buckets(), 2);  // the bias (24 bytes), then the weight (96 bytes) alone
  EXPECT_EQ(averager.bytes_per_average(), (3 + 12 + 2) * 8);
  ASSERT_TRUE(averager.Average().ok());
  EXPECT_TRUE(at::equal(linear->weight.grad(), weight_grad));
  EXPECT_FALSE(linear->bias.grad().defined());
}

TEST(BroadcastModule, GroupOfOneKeepsTheWeights) {
  comm::LocalCommunicator local;
  torch::nn::Linear linear(4, 3);
  const at::Tensor before = linear->weight.detach().clone();
  ASSERT_TRUE(BroadcastModule(local, *linear).ok());
  EXPECT_TRUE(at::equal(linear->weight, before));
}

}  // namespace
}  // namespace istar::trainer
