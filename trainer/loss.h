// File: trainer/loss.h
// -----------------------------------------------------------------------------
// The loss of one training step, at the tensor level (LibTorch): the task loss plus the trial's
// isotropy regularizer on the hidden states of chosen layers, and the isotropy measures logged
// beside it. RunTrial (trainer/trainer.h) uses these; they are public so that benchmarks and
// tests can time and check a step without running a whole trial.
//
// The point cloud is the union of the chosen layers' hidden states at the real (non-padding)
// tokens of a batch (every position, padding too, under PointCloudPadding::kInclude): rows
// [k * n, (k + 1) * n) are layer layers[k] for the same n tokens.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::vector<int64_t> layers, ResolveLayers(12, settings.layers));
//   models::ModelOutput out = model.Forward(batch);
//   PointCloud cloud = GatherPoints(out.hidden_states, batch.attention_mask, layers);
//   ISTAR_ASSIGN_OR_RETURN(StepLoss loss, ComputeLoss(out.logits, labels, cloud, regularizer));
//   loss.total.backward();
//
// Errors: InvalidArgument for inputs the regularizers reject (fewer than 2 tokens, non-finite
// hidden states, zeta > 0 without S0). Tensor ops may throw c10::Error; RunTrial catches it.
//
// Thread safety: the functions are thread-safe.
#ifndef ISTAR_TRAINER_LOSS_H_
#define ISTAR_TRAINER_LOSS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "regularizers/isotropy.h"
#include "regularizers/regularizer.h"
#include "sweeps/sweep.h"

namespace istar::trainer {

// The regularizer of a trial, as the loss sees it.
struct RegularizerSettings {
  std::string name = "baseline";  // a catalogue regularizer (catalog/catalog.h)
  double lambda = 0.0;   // weight of the regularizer term; negative lambda lowers isotropy
  double zeta = 0.0;     // I-STAR's shrinkage weight in [0, 1]
  std::map<std::string, double> parameters;  // its other parameters: vicreg's gamma, ...
  at::Tensor shrinkage;  // S0 [H, H] (any float dtype); required by I-STAR when zeta > 0
  // What SIGReg draws its random directions from: the same on every rank, a new value each step
  // (DrawSeed), so that a resumed trial draws what the uninterrupted one drew.
  uint64_t draw_seed = 0;
  // In a worker group: the term of the whole step's cloud (kGlobal) or the mean over the ranks of
  // each rank's term on its own shard (kPerRank; Note [Per-rank isotropy scope], loss.cc). The
  // same with one rank.
  sweeps::IsotropyScope scope = sweeps::IsotropyScope::kGlobal;
};

// The draw seed of step `step` of a trial with seed `seed` (SplitMix64 of the pair).
uint64_t DrawSeed(int64_t seed, int64_t step);

// OK when the trainer can compute `regularizer`'s term: the status of
// regularizers::MakeRegularizer (InvalidArgument for a name the catalogue does not know, a
// missing parameter or a value out of range).
[[nodiscard]] absl::Status CheckTrainable(const RegularizerSettings& regularizer);

// True when `regularizer` adds a term to the loss: every catalogue row with a lambda (all but the
// baseline). The step needs the point cloud only then (or to log isotropy).
bool HasTerm(const RegularizerSettings& regularizer);

// True when its term shrinks towards S0 (the row's uses_shrinkage) with zeta > 0: the loop then
// estimates S0 at the start of every epoch.
bool NeedsShrinkage(const RegularizerSettings& regularizer);

// The regularizer of `settings`, built (regularizers/regularizer.h); null for the baseline.
[[nodiscard]] absl::StatusOr<std::unique_ptr<const regularizers::Regularizer>> MakeTerm(
    const RegularizerSettings& settings);

// Hidden states of chosen layers at the real tokens of one batch (regularizers/regularizer.h).
using PointCloud = regularizers::PointCloud;

// The 1-based transformer layers the regularizer reads: 1..num_layers if `requested` is empty,
// else `requested` with sweeps::kLastLayer read as num_layers, sorted and deduplicated
// ({1, kLastLayer} of 12 layers is {1, 12}; {12, kLastLayer} is {12}). InvalidArgument for a layer
// outside 1..num_layers.
[[nodiscard]] absl::StatusOr<std::vector<int64_t>> ResolveLayers(
    int64_t num_layers, std::span<const int64_t> requested);

// The point cloud of `layers` (1-based indexes into `hidden_states`, whose entry 0 is the
// embedding output) at the positions where `attention_mask` ([B, T]) is non-zero (kExclude), or
// at every position of the batch, padding included (kInclude: B * T tokens per layer, row b * T + t
// of each layer's block is position t of sequence b), with each token's sequence (its row of the
// batch). Differentiable with respect to the hidden states.
PointCloud GatherPoints(const std::vector<at::Tensor>& hidden_states,
                        const at::Tensor& attention_mask, std::span<const int64_t> layers,
                        sweeps::PointCloudPadding padding = sweeps::PointCloudPadding::kExclude);

// The parts of a step's loss, each a 0-dim tensor: total = task + regularizer, the loss of the
// whole (global) batch, the same on every rank of a worker group.
struct StepLoss {
  at::Tensor total;
  at::Tensor task;  // mean cross-entropy of the whole batch
  // lambda * the regularizer's term (regularizers/regularizer.h): 0 for the baseline,
  // lambda * (1 - IsoScore*) for I-STAR, ... (docs/isotropy.md)
  at::Tensor regularizer;
  // What this rank back-propagates. One process: `total` itself. R ranks: R * (this rank's share
  // of the task loss) + regularizer (kPerRank: + R / R' times this rank's own term, R' the ranks
  // in the mean), whose gradients, averaged over the ranks (GradientAverager,
  // trainer/data_parallel.h), are the gradient of `total` (Note [Per-rank objective] and
  // Note [Per-rank isotropy scope], loss.cc).
  at::Tensor objective;
};

// Mean cross-entropy of classification `logits` [B, C] against `labels` [B] (int64).
at::Tensor ClassificationLoss(const at::Tensor& logits, const at::Tensor& labels);
// The same, summed over the rows instead of averaged.
at::Tensor ClassificationLossSum(const at::Tensor& logits, const at::Tensor& labels);

// SQuAD's span loss, as transformers' *ForQuestionAnswering: the mean of the cross-entropies of
// `start_logits` and `end_logits` ([B, T]) against the answer's token positions ([B], int64).
at::Tensor SpanLoss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                    const at::Tensor& start_positions, const at::Tensor& end_positions);
// The same, summed over the rows instead of averaged.
at::Tensor SpanLossSum(const at::Tensor& start_logits, const at::Tensor& end_logits,
                       const at::Tensor& start_positions, const at::Tensor& end_positions);

// The loss of one step of a global batch of `global_rows` examples spread over the ranks of
// `ranks`: `task_loss_sum` is the sum of the per-example task losses of this rank's rows (0 for a
// rank with none) and `cloud` this rank's points (possibly [0, H]: a rank with no rows still
// takes part). The regularizer is computed on the union of every rank's points (scope kGlobal),
// or on each rank's own points, `regularizer` then being the mean of the ranks' values (kPerRank;
// a rank whose finite cloud the term rejects, one with no rows, is left out of the mean).
// Collectives (with more than one rank): the regularizer's (kPerRank: one sum of three numbers),
// and one to sum the task loss for `task`. InvalidArgument when the regularizer rejects the cloud
// (the same on every rank).
[[nodiscard]] absl::StatusOr<StepLoss> ComputeStepLoss(
    const at::Tensor& task_loss_sum, int64_t global_rows, const PointCloud& cloud,
    const RegularizerSettings& regularizer,
    const regularizers::CrossRankSum& ranks = regularizers::LocalSum());

// Adds the regularizer on `cloud` to `task_loss` (a 0-dim tensor). `cloud` may be empty
// (undefined points) for the baseline. InvalidArgument when the regularizer rejects the cloud.
[[nodiscard]] absl::StatusOr<StepLoss> AddRegularizer(const at::Tensor& task_loss,
                                                      const PointCloud& cloud,
                                                      const RegularizerSettings& regularizer);

// AddRegularizer(ClassificationLoss(logits, labels), cloud, regularizer).
[[nodiscard]] absl::StatusOr<StepLoss> ComputeLoss(const at::Tensor& logits,
                                                   const at::Tensor& labels,
                                                   const PointCloud& cloud,
                                                   const RegularizerSettings& regularizer);

// Isotropy of a point cloud, measured without gradient.
struct IsotropyMeasures {
  double isoscore_star = 0.0;  // with the given zeta and S0 (zeta 0 when S0 is undefined)
  double isoscore = 0.0;       // zeta = 0
  double avg_cosine = 0.0;     // mean pairwise cosine similarity
};

// Measures `points` ([N, H]; with `ranks`, the union of every rank's points, N >= 2 in all).
// InvalidArgument as the regularizers' analysis functions.
[[nodiscard]] absl::StatusOr<IsotropyMeasures> MeasureIsotropy(
    const at::Tensor& points, double zeta, const at::Tensor& shrinkage,
    const regularizers::CrossRankSum& ranks = regularizers::LocalSum());

}  // namespace istar::trainer

#endif  // ISTAR_TRAINER_LOSS_H_
