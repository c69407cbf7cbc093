// File: trainer/step.h
// -----------------------------------------------------------------------------
// The forward and backward passes of one optimizer step (LibTorch), over one batch or over
// micro-batches (training.gradient_accumulation_steps), on one rank of a worker group. What it
// leaves in the parameters' gradients is the gradient of the step's loss on the rank's share of
// the global batch (averaged over the ranks when an averager is given), and the regularizer is
// always that of the whole step's point cloud: accumulating gradients over K micro-batches
// changes the memory a step needs, not the step (Note [Accumulation with a global point cloud]).
//
// Example (every rank; `Forward` runs the model on rows [rows.begin, rows.end) of this rank's
// share and returns their summed task loss and point cloud):
//
//   optimizer.zero_grad();
//   ISTAR_ASSIGN_OR_RETURN(StepResult step, RunStepPasses(Forward, options, regularizer, ranks,
//                                                         &averager));
//   if (!step.rejected.ok()) ...          // the regularizer refused the cloud (non-finite)
//   clip_grad_norm_(...); optimizer.step();
//
// Errors: the communicator's (through `ranks` and the averager) and `forward`'s. Tensor ops may
// throw c10::Error, caught by the trainer's LibTorch boundary.
// Thread safety: one thread, as the communicators.
#ifndef ISTAR_TRAINER_STEP_H_
#define ISTAR_TRAINER_STEP_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "regularizers/isotropy.h"
#include "trainer/data_parallel.h"
#include "trainer/loss.h"

namespace istar::trainer {

// What one forward pass over some rows gives the step.
struct MicroBatchOutput {
  at::Tensor task_loss_sum;  // 0-dim: the sum of the rows' task losses, attached to the graph
  PointCloud cloud;          // the rows' points, attached; undefined points when not asked for
};

// Runs the model, in training mode, on rows [rows.begin, rows.end) of this rank's share of the
// batch (never empty). `with_cloud`: the points are needed.
using MicroBatchForward =
    std::function<absl::StatusOr<MicroBatchOutput>(const Shard& rows, bool with_cloud)>;

struct StepOptions {
  int64_t global_rows = 0;    // examples in the step, over all ranks
  int64_t local_rows = 0;     // this rank's share of them (may be 0)
  int64_t micro_batches = 1;  // gradient accumulation steps, >= 1
  bool log = false;           // return the step's point cloud for the isotropy log
  // For a rank with no rows: the empty cloud's width, layers and tensor options. `layers` are
  // the regularizer's; `logged_layers` (a superset, empty: `layers`) those of the clouds
  // `forward` returns when `log`, of which the regularizer is given its layers (SelectLayers).
  int64_t hidden = 0;
  std::vector<int64_t> layers;
  std::vector<int64_t> logged_layers;
  at::TensorOptions options;
  // The model's device: its generator (and the CPU's) is replayed between the two passes of an
  // accumulated regularized step, so that both draw the same dropout masks.
  at::Device device = at::kCPU;
};

struct StepResult {
  StepLoss loss;  // detached values (objective undefined); undefined when `rejected`
  // This rank's points of the whole step, detached, when logging (of the logged layers) or
  // regularized (of the regularizer's layers, when not logging).
  PointCloud cloud;
  // The regularizer's InvalidArgument for the cloud (fewer than 2 points in all, non-finite
  // hidden states): nothing was back-propagated and the caller decides (diverged or an error).
  absl::Status rejected;
};

// Runs the step's passes (see the file comment). `averager` may be null (one process); when set,
// its Average() has run when this returns OK. A collective on `ranks` and the averager.
[[nodiscard]] absl::StatusOr<StepResult> RunStepPasses(const MicroBatchForward& forward,
                                                       const StepOptions& options,
                                                       const RegularizerSettings& regularizer,
                                                       const regularizers::CrossRankSum& ranks,
                                                       GradientAverager* averager);

// The rows of `cloud` (laid out as GatherPoints lays one out) of `layers`, each of which must be
// one of cloud.layers, in the order of `layers`: `cloud` itself when the layers are the same (or
// its points are undefined), else the layers' blocks joined (differentiable; tokens and
// sequences kept).
PointCloud SelectLayers(const PointCloud& cloud, const std::vector<int64_t>& layers);

// The union of `parts` (clouds of the same layers, in the same order) as one cloud laid out as
// GatherPoints lays one out: each layer's rows of every part together, layer after layer, and
// each part's sequences numbered after those of the parts before it (undefined if a part's are).
// With no parts: [0, hidden] of `options`.
PointCloud JoinClouds(const std::vector<PointCloud>& parts, const std::vector<int64_t>& layers,
                      int64_t hidden, const at::TensorOptions& options);

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_STEP_H_
