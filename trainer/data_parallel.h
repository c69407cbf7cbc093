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
//   loss.objective.backward();                  // buckets all-reduced as they fill
//   ISTAR_RETURN_IF_ERROR(averager.Average());  // the rest, then wait
//   optimizer.step();
//
// Errors: the communicator's Statuses. Thread safety: one thread, as the communicator.
#ifndef ISTAR_TRAINER_DATA_PARALLEL_H_
#define ISTAR_TRAINER_DATA_PARALLEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "comm/communicator.h"

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

// Replaces every parameter's gradient with its mean over the ranks of a group. The gradients go
// into flat buckets of at most `bucket_bytes` (PyTorch DDP's default, 25 MiB), in reverse
// registration order (the order a backward pass produces them), each bucket all-reduced as one
// buffer. By default (Schedule::kOverlapped) each parameter's autograd hook adds its gradient to
// its bucket, and a bucket's all-reduce starts as soon as the bucket is complete, while the
// backward pass goes on computing earlier layers; Average() then starts what is left and waits
// (Note [Bucket order] says how every rank starts them in the same order). A parameter with no
// gradient on a rank counts as zero there; one with no gradient on every rank keeps none, so that
// the optimizer skips it as it would in one process.
//
// Gradient accumulation: BeginBackward(/*last=*/false) before the backward passes of a step's
// earlier micro-batches makes their hooks only add into the buckets; the last pass
// (BeginBackward(true), the default) starts the all-reduces.
//
// Buffers: over NCCL the buckets stay on the GPU and the collectives are ordered on LibTorch's
// current stream; over a host communicator with GPU gradients each bucket is staged through a
// pinned host buffer of its own (Note [Host staging] in regularizers/tensor_collectives.h).
//
// Thread safety: the hooks run on LibTorch's autograd threads during backward(), while the
// thread that called it waits; nothing else may use the averager or its communicator meanwhile.
class GradientAverager {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;

  // When the buckets are all-reduced.
  enum class Schedule {
    kOverlapped,     // as they become complete during the backward pass (autograd hooks)
    kAfterBackward,  // all in Average(), from the parameters' grads (for comparison)
  };

  struct Options {
    int64_t bucket_bytes = kDefaultBucketBytes;
    Schedule schedule = Schedule::kOverlapped;
    // Stage every bucket through a host buffer even when the communicator could read the
    // gradients where they are: how tests exercise a GPU group's MPI fallback on a CPU.
    bool stage_through_host = false;
  };

  // `parameters` all of one floating dtype and device (frozen ones, not requiring grad, count as
  // never having a gradient); `group` must outlive the averager. In a group of one nothing is
  // registered and Average() does nothing.
  GradientAverager(comm::Communicator& group, std::vector<at::Tensor> parameters, Options options);
  GradientAverager(comm::Communicator& group, std::vector<at::Tensor> parameters)
      : GradientAverager(group, std::move(parameters), Options()) {}
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;
  ~GradientAverager();  // removes the hooks

  // Says whether the backward pass about to run is the last of the optimizer step.
  void BeginBackward(bool last);

  // Averages the gradients (after the step's backward passes, before the optimizer step): starts
  // the buckets not started yet, in order, waits for all and writes the means into the grads. A
  // collective; does nothing in a group of one. Errors: the communicator's, including one met by
  // a hook during the backward pass.
  [[nodiscard]] absl::Status Average();

  // The buckets' count and the bytes one Average() all-reduces (gradients plus one
  // has-gradient flag per parameter).
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t bytes_per_average() const;

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // indexes into parameters_
    std::vector<int64_t> offsets;    // where each starts in `flat`
    int64_t elements = 0;            // gradient elements, before the flags
    at::Tensor flat;                 // gradients, then one flag per parameter
    at::Tensor host;                 // its staging buffer, when staged
    int64_t arrived = 0;             // parameters whose last-pass gradient has arrived
    std::unique_ptr<comm::Communicator::Pending> pending;
  };

  void OpenStep();
  // Average()'s work on the open step; Average() then closes it.
  absl::Status AverageOpenStep();
  void OnGradient(size_t parameter, const at::Tensor& grad);
  void StartReadyBuckets();
  absl::Status Start(Bucket& bucket);
  absl::Status Finish(Bucket& bucket);

  comm::Communicator& group_;
  std::vector<at::Tensor> parameters_;
  const Options options_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_;  // parameter -> (bucket, place in bucket)
  static constexpr unsigned kNoHook = ~0u;
  std::vector<unsigned> hooks_;  // hook handle per parameter; kNoHook for a frozen one
  bool staged_ = false;
  bool step_open_ = false;
  bool last_backward_ = true;
  size_t next_start_ = 0;  // buckets [0, next_start_) are started this step
  absl::Status error_;     // the first error met by a hook
};

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_DATA_PARALLEL_H_
