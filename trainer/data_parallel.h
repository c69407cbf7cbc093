// File: trainer/data_parallel.h
// -----------------------------------------------------------------------------
// Data parallelism for one trial on a worker group (LibTorch): R ranks (R processes of one mpirun
// job) train one model together, each on a shard of every batch (docs/training.md, "Worker
// groups"). Together with ComputeStepLoss (trainer/loss.h) over a CrossRankSum of the group
// (regularizers/tensor_collectives.h), one optimizer step on R ranks equals the step one process
// takes on the whole batch: the same weights, the same loss, the same gradient up to rounding.
//
// The pieces, in the order a step uses them:
//   - BroadcastModule: every rank starts from rank 0's weights.
//   - ShardOf: the rows of a global batch that one rank trains on.
//   - ComputeStepLoss (loss.h): the rank's objective; its regularizer is global.
//   - GradientAverager: the mean of the ranks' gradients, all-reduced in buckets.
//
// Example (every rank):
//
//   ISTAR_RETURN_IF_ERROR(BroadcastModule(group, model.module()));
//   GradientAverager averager(group, model.module().parameters());
//   const Shard shard = ShardOf(batch_rows, group.rank(), group.size());
//   ... forward on rows [shard.begin, shard.end), loss = ComputeStepLoss(..., *ranks) ...
//   loss.objective.backward();
//   ISTAR_RETURN_IF_ERROR(averager.Average());
//   optimizer.step();
//
// Errors: the communicator's Statuses. Thread safety: one thread, as the communicator.
#ifndef ISTAR_TRAINER_DATA_PARALLEL_H_
#define ISTAR_TRAINER_DATA_PARALLEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace istar::comm {
class Communicator;
}  // namespace istar::comm

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace istar::trainer {

// The rows [begin, end) of a global batch that one rank trains on.
struct Shard {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t rows() const { return end - begin; }
};

// Splits `rows` rows into `size` contiguous shards whose sizes differ by at most one (the first
// rows % size ranks take one more) and returns rank `rank`'s. A rank gets no rows when
// rows < size (the tail of an epoch); it still takes part in every collective of the step.
Shard ShardOf(int64_t rows, int rank, int size);

// Copies rank `root`'s parameters and buffers into every rank's `module` (in registration order;
// every rank must hold the same architecture). A collective.
[[nodiscard]] absl::Status BroadcastModule(comm::Communicator& group, torch::nn::Module& module,
                                           int root = 0);

// Replaces every parameter's gradient with its mean over the ranks of a group. The gradients are
// copied into flat buckets of at most `bucket_bytes` (PyTorch DDP's default, 25 MiB), in reverse
// registration order (the order a backward pass produces them), each bucket all-reduced at once.
// A parameter with no gradient on a rank counts as zero there; one with no gradient on every rank
// keeps none, so that the optimizer skips it as it would in one process.
class GradientAverager {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;

  // `parameters` all of one floating dtype and device; `group` must outlive the averager.
  GradientAverager(comm::Communicator& group, std::vector<at::Tensor> parameters,
                   int64_t bucket_bytes = kDefaultBucketBytes);

  // Averages the gradients (after backward, before the optimizer step). A collective; does
  // nothing in a group of one.
  [[nodiscard]] absl::Status Average();

  // The buckets' count and the bytes one Average() all-reduces (gradients plus one
  // has-gradient flag per parameter).
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t bytes_per_average() const;

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // indexes into parameters_
    int64_t elements = 0;            // gradient elements, before the flags
  };

  comm::Communicator& group_;
  std::vector<at::Tensor> parameters_;
  std::vector<Bucket> buckets_;
};

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_DATA_PARALLEL_H_
