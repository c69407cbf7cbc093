// One optimizer step's passes over micro-batches (see trainer/step.h).
#include "trainer/step.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "base/check.h"
#include "base/status_macros.h"
#include "trainer/internal/checkpoint.h"

namespace istar::trainer {
namespace {

// The generators a forward pass may draw from, saved before it and restored for its replay.
struct Generators {
  at::Tensor cpu;
  at::Tensor device;  // the GPU's; undefined on a CPU
};

Generators SaveGenerators(const at::Device& device) {
  return {.cpu = internal::RngState(at::kCPU),
          .device = device.is_cuda() ? internal::RngState(device) : at::Tensor()};
}

void RestoreGenerators(const at::Device& device, const Generators& saved) {
  internal::SetRngState(at::kCPU, saved.cpu);
  if (saved.device.defined()) internal::SetRngState(device, saved.device);
}

PointCloud Detached(const PointCloud& cloud) {
  PointCloud copy = cloud;
  if (copy.points.defined()) copy.points = copy.points.detach();
  return copy;
}

// A rank without rows still joins every collective of the regularizer, its backward pass
// included, so its empty cloud is a leaf that requires a gradient.
PointCloud EmptyCloud(const StepOptions& options) {
  const bool logged = options.log && !options.logged_layers.empty();
  return {.points = at::zeros({0, options.hidden}, options.options).requires_grad_(),
          .tokens = 0,
          .layers = logged ? options.logged_layers : options.layers,
          .sequence = at::zeros({0}, options.options.dtype(at::kLong)),
          .sequences = 0};
}

// Rows of layer k of micro-batch m within a joined cloud: layer k's block starts at
// k * total tokens, micro-batch m's rows at the tokens of the micro-batches before it.
at::Tensor PartOf(const at::Tensor& joined, int64_t total_tokens, int64_t layer, int64_t before,
                  int64_t tokens) {
  const int64_t begin = layer * total_tokens + before;
  return joined.slice(0, begin, begin + tokens);
}

// The loss values the caller logs, taken off the graph.
StepLoss Values(const StepLoss& loss) {
  return {.total = loss.total.detach(),
          .task = loss.task.detach(),
          .regularizer = loss.regularizer.detach()};
}

absl::StatusOr<StepResult> OnePass(const MicroBatchForward& forward, const StepOptions& options,
                                   const RegularizerSettings& regularizer,
                                   const regularizers::CrossRankSum& ranks,
                                   GradientAverager* averager) {
  const bool with_cloud = HasTerm(regularizer) || options.log;
  MicroBatchOutput out;
  if (options.local_rows > 0) {
    ISTAR_ASSIGN_OR_RETURN(out, forward({.begin = 0, .end = options.local_rows}, with_cloud));
  } else {
    out.task_loss_sum = at::zeros({}, options.options);
    if (with_cloud) out.cloud = EmptyCloud(options);
  }
  StepResult result;
  absl::StatusOr<StepLoss> loss =
      ComputeStepLoss(out.task_loss_sum, options.global_rows,
                      SelectLayers(out.cloud, options.layers), regularizer, ranks);
  result.cloud = Detached(out.cloud);
  if (!loss.ok()) {
    result.rejected = loss.status();
    return result;
  }
  // Under the baseline a rank without rows has nothing to differentiate (and no collective in
  // its backward pass, as on every rank for the baseline).
  if (loss->objective.requires_grad()) loss->objective.backward();
  if (averager != nullptr) ISTAR_RETURN_IF_ERROR(averager->Average());
  result.loss = Values(*loss);
  return result;
}

// Note [Accumulation with a global point cloud]
// With K micro-batches the regularizer must still be that of the whole step's cloud X (every
// micro-batch of every rank), or the trial would change with K. Its gradient with respect to a
// micro-batch's parameters is sum_i <dreg/dx_i, dx_i/dtheta> over that micro-batch's points, and
// dreg/dx_i needs all of X. So a regularized step takes two passes:
//   1. every micro-batch forward without a graph (saving the generators first), X joined, and
//      reg(X) differentiated with respect to X as a leaf: G = dreg/dX (collectives as usual);
//   2. every micro-batch forward again with a graph, the generators restored so that dropout
//      draws the same masks and the points are the same X_m, and backward of
//      R * task_m / B + sum(G_m * X_m): the surrogate's gradient is exactly reg's through X_m.
// The parameters' gradients sum over the K backward passes to the one-pass gradient, up to
// rounding; the cost is one extra forward pass without a graph per micro-batch (about a third
// more compute than the unaccumulated step), the memory one micro-batch's activations plus X and
// G. A baseline step needs no first pass.
absl::StatusOr<StepResult> AccumulatedPasses(const MicroBatchForward& forward,
                                             const StepOptions& options,
                                             const RegularizerSettings& regularizer,
                                             const regularizers::CrossRankSum& ranks,
                                             GradientAverager* averager) {
  const bool regularized = HasTerm(regularizer);
  std::vector<Shard> parts;
  for (int64_t m = 0; m < options.micro_batches; ++m) {
    const Shard rows =
        ShardOf(options.local_rows, static_cast<int>(m), static_cast<int>(options.micro_batches));
    if (rows.rows() > 0) parts.push_back(rows);
  }
  StepResult result;
  std::vector<Generators> generators;
  std::vector<int64_t> tokens_before;  // per part, in the joined cloud
  at::Tensor gradient;                 // G, [layers * tokens, H]
  const std::vector<int64_t>& logged_layers =
      options.logged_layers.empty() ? options.layers : options.logged_layers;
  if (regularized) {
    std::vector<PointCloud> clouds;
    std::vector<PointCloud> logged;  // when logging: the parts' clouds of the logged layers
    for (const Shard& rows : parts) {
      generators.push_back(SaveGenerators(options.device));
      at::NoGradGuard no_graph;
      ISTAR_ASSIGN_OR_RETURN(MicroBatchOutput out, forward(rows, /*with_cloud=*/true));
      if (options.log) logged.push_back(Detached(out.cloud));
      clouds.push_back(Detached(SelectLayers(out.cloud, options.layers)));
    }
    PointCloud joined = JoinClouds(clouds, options.layers, options.hidden, options.options);
    int64_t before = 0;
    for (const PointCloud& cloud : clouds) {
      tokens_before.push_back(before);
      before += cloud.tokens;
    }
    joined.points = joined.points.detach().requires_grad_();
    absl::StatusOr<StepLoss> loss = ComputeStepLoss(
        at::zeros({}, options.options), options.global_rows, joined, regularizer, ranks);
    result.cloud = Detached(joined);
    if (!loss.ok()) {
      result.rejected = loss.status();
      return result;
    }
    loss->objective.backward();
    gradient = joined.points.grad();
    result.loss.regularizer = loss->regularizer.detach();
    if (options.log) {
      result.cloud = JoinClouds(logged, logged_layers, options.hidden, options.options);
    }
  }
  const double world = static_cast<double>(ranks.world_size());
  at::Tensor task_sum = at::zeros({}, options.options);
  std::vector<PointCloud> logged;
  for (size_t p = 0; p < parts.size(); ++p) {
    if (regularized) RestoreGenerators(options.device, generators[p]);
    ISTAR_ASSIGN_OR_RETURN(MicroBatchOutput out,
                           forward(parts[p], /*with_cloud=*/regularized || options.log));
    at::Tensor objective = world * out.task_loss_sum / static_cast<double>(options.global_rows);
    if (regularized) {
      const PointCloud cloud = SelectLayers(out.cloud, options.layers);
      ISTAR_CHECK(cloud.tokens == 0 ||
                  cloud.points.size(0) == cloud.tokens * static_cast<int64_t>(cloud.layers.size()));
      for (size_t k = 0; k < cloud.layers.size(); ++k) {
        const auto layer = static_cast<int64_t>(k);
        objective = objective +
                    (PartOf(cloud.points, cloud.tokens, layer, 0, cloud.tokens) *
                     PartOf(gradient, result.cloud.tokens, layer, tokens_before[p], cloud.tokens))
                        .sum();
      }
    } else if (options.log) {
      logged.push_back(Detached(out.cloud));
    }
    task_sum = task_sum + out.task_loss_sum.detach();
    if (averager != nullptr) averager->BeginBackward(/*last=*/p + 1 == parts.size());
    objective.backward();
  }
  if (averager != nullptr) ISTAR_RETURN_IF_ERROR(averager->Average());
  if (!regularized) {
    result.loss.regularizer = at::zeros({}, options.options);
    if (options.log) {
      result.cloud = JoinClouds(logged, logged_layers, options.hidden, options.options);
    }
  }
  at::NoGradGuard no_grad;
  const at::Tensor share = task_sum / static_cast<double>(options.global_rows);
  result.loss.task = ranks.world_size() == 1 ? share : ranks.Sum(share.reshape({1})).reshape({});
  result.loss.total = result.loss.task + result.loss.regularizer;
  return result;
}

}  // namespace

PointCloud SelectLayers(const PointCloud& cloud, const std::vector<int64_t>& layers) {
  if (!cloud.points.defined() || cloud.layers == layers) return cloud;
  PointCloud selected = cloud;
  selected.layers = layers;
  std::vector<at::Tensor> blocks;
  for (int64_t layer : layers) {
    const auto found = std::find(cloud.layers.begin(), cloud.layers.end(), layer);
    ISTAR_CHECK(found != cloud.layers.end()) << "layer " << layer << " is not in the cloud";
    const auto k = static_cast<int64_t>(found - cloud.layers.begin());
    blocks.push_back(PartOf(cloud.points, cloud.tokens, k, 0, cloud.tokens));
  }
  selected.points = blocks.size() == 1 ? blocks[0] : at::cat(blocks);
  return selected;
}

PointCloud JoinClouds(const std::vector<PointCloud>& parts, const std::vector<int64_t>& layers,
                      int64_t hidden, const at::TensorOptions& options) {
  PointCloud joined{.layers = layers};
  std::vector<at::Tensor> rows;
  for (size_t k = 0; k < layers.size(); ++k) {
    for (const PointCloud& part : parts) {
      const auto layer = static_cast<int64_t>(k);
      rows.push_back(PartOf(part.points, part.tokens, layer, 0, part.tokens));
    }
  }
  // Each part's sequences follow those of the parts before it.
  std::vector<at::Tensor> sequence;
  bool sequences_known = true;
  for (const PointCloud& part : parts) {
    joined.tokens += part.tokens;
    if (!part.sequence.defined()) sequences_known = false;
    if (sequences_known) sequence.push_back(part.sequence + joined.sequences);
    joined.sequences += part.sequences;
  }
  joined.points = rows.empty() ? at::zeros({0, hidden}, options) : at::cat(rows);
  joined.sequence = !sequences_known   ? at::Tensor()
                    : sequence.empty() ? at::zeros({0}, options.dtype(at::kLong))
                                       : at::cat(sequence);
  return joined;
}

absl::StatusOr<StepResult> RunStepPasses(const MicroBatchForward& forward,
                                         const StepOptions& options,
                                         const RegularizerSettings& regularizer,
                                         const regularizers::CrossRankSum& ranks,
                                         GradientAverager* averager) {
  ISTAR_CHECK(options.micro_batches >= 1 && options.global_rows >= 1);
  if (options.micro_batches == 1) return OnePass(forward, options, regularizer, ranks, averager);
  return AccumulatedPasses(forward, options, regularizer, ranks, averager);
}

}  // namespace istar::trainer
