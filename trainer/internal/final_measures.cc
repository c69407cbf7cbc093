#include "trainer/internal/final_measures.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/isotropy.h"
#include "regularizers/tensor_collectives.h"
#include "trainer/internal/batches.h"
#include "trainer/internal/evaluate.h"
#include "trainer/loss.h"

namespace istar::trainer::internal {
namespace {

using regularizers::CovarianceStats;

CovarianceStats EmptyStats(int64_t dims, const at::Device& device) {
  const auto options = at::TensorOptions(at::kDouble).device(device);
  return {.count = at::zeros({}, options),
          .sum = at::zeros({dims}, options),
          .scatter = at::zeros({dims, dims}, options)};
}

// Adds the rows of `points` to `stats`, in float64.
absl::Status Accumulate(CovarianceStats& stats, const at::Tensor& points) {
  ISTAR_ASSIGN_OR_RETURN(const CovarianceStats batch,
                         regularizers::ComputeCovarianceStats(points.to(at::kDouble)));
  stats = regularizers::MergeCovarianceStats(stats, batch);
  return absl::OkStatus();
}

// Note [Per-layer S0 of the final measures]
// Layer k's S0 is the covariance of the first training.shrinkage_points real-token states of layer
// k, the training features read in file order in batches of kEvalBatchSize, after training and in
// eval mode. As in Note [S0 on a worker group] (step_runner.cc), every rank plans which rows one
// process would take (a batch holds its features' lengths in tokens per layer; the budget is
// filled in order) and adds exactly its own batches' planned rows, so that the group's S0 is one
// process's.
absl::StatusOr<std::vector<at::Tensor>> LayerShrinkage(TrialContext& ctx, const TrialData& data,
                                                       int64_t layers) {
  models::TaskModel& model = *ctx.model.model;
  const int64_t budget = ctx.trial.training.shrinkage_points;
  std::vector<regularizers::ShrinkageEstimator> estimators;
  for (int64_t l = 0; l < layers; ++l) {
    estimators.emplace_back(model.config().hidden_size, budget, ctx.device);
  }
  const std::vector<tasks::Feature>& features = data.train_features();
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(static_cast<int64_t>(features.size()), kEvalBatchSize, 0, 0, false);
  int64_t left = budget;
  for (size_t k = 0; k < batches.size() && left > 0; ++k) {
    int64_t tokens = 0;
    for (int64_t f : batches[k]) tokens += static_cast<int64_t>(features[f].input_ids.size());
    const int64_t take = std::min(tokens, left);
    left -= take;
    if (static_cast<int64_t>(k) % ctx.group.size() != ctx.group.rank()) continue;
    const models::Batch batch =
        ToModelBatch(Collate(features, batches[k], data.pad_id()), ctx.device);
    const models::ModelOutput out = model.Forward(batch);
    for (int64_t l = 1; l <= layers; ++l) {
      const PointCloud cloud =
          GatherPoints(out.hidden_states, batch.attention_mask, std::vector<int64_t>{l});
      ISTAR_RETURN_IF_ERROR(estimators[l - 1].Add(cloud.points.slice(0, 0, take)).status());
    }
  }
  std::vector<at::Tensor> shrinkage;
  for (const regularizers::ShrinkageEstimator& estimator : estimators) {
    ISTAR_ASSIGN_OR_RETURN(at::Tensor s0, estimator.Finish(ctx.ranks));
    shrinkage.push_back(std::move(s0));
  }
  return shrinkage;
}

// What one pass over the dev split gathers (this rank's batches until summed over the ranks).
struct DevStatistics {
  std::vector<CovarianceStats> cls;  // cls[k - 1]: layer k's [CLS] vectors
  CovarianceStats tokens;            // every real token of layers 1..L
  at::Tensor last_cls;               // [features, H] float64: layer L's [CLS] vectors, 0 elsewhere
  at::Tensor last_units;             // [1 + H] float64: count, then the sum of unit vectors
};

// Note [Mean cosine without the token cloud]
// The mean pairwise cosine of layer L's dev tokens is (||sum_i u_i||^2 - N) / (N (N - 1)) with
// u_i = x_i / max(||x_i||, 1e-12), the identity regularizers::AverageCosineSimilarity evaluates
// (docs/isotropy.md, "CosReg and average cosine similarity"). Its inputs, N and sum_i u_i, are
// accumulated here batch by batch, in float64, so that the dev split's tokens (SQuAD: millions)
// are never held at once; the token cloud's covariance is streamed the same way.
absl::StatusOr<DevStatistics> MeasureDev(TrialContext& ctx, const EvalSplit& split, int64_t pad_id,
                                         int64_t layers) {
  models::TaskModel& model = *ctx.model.model;
  const int64_t hidden = model.config().hidden_size;
  const auto doubles = at::TensorOptions(at::kDouble).device(ctx.device);
  DevStatistics dev{
      .tokens = EmptyStats(hidden, ctx.device),
      .last_cls = at::zeros({static_cast<int64_t>(split.features.size()), hidden}, doubles),
      .last_units = at::zeros({1 + hidden}, doubles)};
  std::vector<int64_t> all_layers(layers);
  for (int64_t l = 0; l < layers; ++l) {
    all_layers[l] = l + 1;
    dev.cls.push_back(EmptyStats(hidden, ctx.device));
  }
  const std::vector<std::vector<int64_t>> batches =
      EpochBatches(static_cast<int64_t>(split.features.size()), kEvalBatchSize, 0, 0, false);
  for (size_t k = static_cast<size_t>(ctx.group.rank()); k < batches.size();
       k += static_cast<size_t>(ctx.group.size())) {
    const models::Batch batch =
        ToModelBatch(Collate(split.features, batches[k], pad_id), ctx.device);
    const models::ModelOutput out = model.Forward(batch);
    for (int64_t l = 1; l <= layers; ++l) {
      ISTAR_RETURN_IF_ERROR(Accumulate(dev.cls[l - 1], out.hidden_states[l].select(1, 0)));
    }
    const at::Tensor rows = at::tensor(batches[k], at::kLong).to(ctx.device);
    dev.last_cls.index_copy_(0, rows, out.hidden_states[layers].select(1, 0).to(at::kDouble));
    const PointCloud cloud = GatherPoints(out.hidden_states, batch.attention_mask, all_layers);
    ISTAR_RETURN_IF_ERROR(Accumulate(dev.tokens, cloud.points));
    const at::Tensor last = cloud.points.slice(0, (layers - 1) * cloud.tokens).to(at::kDouble);
    const at::Tensor units = last / last.norm(2, {1}, true).clamp_min(1e-12);
    dev.last_units.narrow(0, 0, 1).add_(static_cast<double>(cloud.tokens));
    dev.last_units.narrow(0, 1, hidden).add_(units.sum(0));
  }
  return dev;
}

// Appends (name, value) to `rows`; a measure the data cannot define (InvalidArgument) is left out.
absl::Status AddMeasure(const std::string& split, const std::string& name,
                        const absl::StatusOr<double>& value, std::vector<db::FinalResult>& rows) {
  if (value.ok()) {
    rows.push_back({.split = split, .name = name, .value = *value});
    return absl::OkStatus();
  }
  if (value.status().code() == absl::StatusCode::kInvalidArgument) return absl::OkStatus();
  return value.status();
}

// IsoScore* of the covariance of `stats`, shrunk toward `s0` by `zeta` (undefined s0: zeta 0).
absl::StatusOr<double> IsoScoreOfStats(const CovarianceStats& stats, const at::Tensor& s0,
                                       double zeta) {
  ISTAR_ASSIGN_OR_RETURN(at::Tensor cov, regularizers::SampleCovariance(stats));
  if (s0.defined()) cov = (1.0 - zeta) * cov + zeta * s0.to(cov.options());
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor iso, regularizers::IsoScoreOfCovariance(cov));
  return iso.item<double>();
}

}  // namespace

absl::StatusOr<std::vector<db::FinalResult>> FinalIsotropyMeasures(TrialContext& ctx,
                                                                   const TrialData& data) {
  at::NoGradGuard no_grad;
  ctx.model.model->module().eval();
  const int64_t layers = ctx.model.model->config().num_hidden_layers;
  const EvalSplit& split = data.eval_splits().front();
  // Fewer than 2 training tokens in all (InvalidArgument on every rank): no [CLS] measures.
  const absl::StatusOr<std::vector<at::Tensor>> shrinkage = LayerShrinkage(ctx, data, layers);
  if (!shrinkage.ok() && shrinkage.status().code() != absl::StatusCode::kInvalidArgument) {
    return shrinkage.status();
  }
  ISTAR_ASSIGN_OR_RETURN(DevStatistics dev, MeasureDev(ctx, split, data.pad_id(), layers));
  // The collectives, in the same order on every rank.
  for (CovarianceStats& stats : dev.cls) stats = regularizers::SumOverRanks(stats, ctx.ranks);
  dev.tokens = regularizers::SumOverRanks(dev.tokens, ctx.ranks);
  const at::Tensor units = ctx.ranks.Sum(dev.last_units).to(at::kCPU);
  ISTAR_RETURN_IF_ERROR(regularizers::AllReduceSum(ctx.tensors, dev.last_cls));

  std::vector<db::FinalResult> rows;
  const std::string& name = split.stored_name;
  for (int64_t l = 1; l <= layers && shrinkage.ok(); ++l) {
    const absl::StatusOr<double> iso =
        IsoScoreOfStats(dev.cls[l - 1], (*shrinkage)[l - 1], ctx.trial.training.evaluation_zeta);
    ISTAR_RETURN_IF_ERROR(AddMeasure(name, absl::StrCat("cls_isoscore_star_layer_", l), iso, rows));
    if (l == layers) ISTAR_RETURN_IF_ERROR(AddMeasure(name, "cls_isoscore_star", iso, rows));
  }
  ISTAR_RETURN_IF_ERROR(
      AddMeasure(name, "token_isoscore", IsoScoreOfStats(dev.tokens, {}, 0.0), rows));
  ISTAR_RETURN_IF_ERROR(
      AddMeasure(name, "cls_twonn", regularizers::TwoNNIntrinsicDimension(dev.last_cls), rows));
  const double n = units[0].item<double>();
  const at::Tensor sum = units.slice(0, 1);
  if (n >= 2) {  // See Note [Mean cosine without the token cloud]
    const double cosine = (sum.dot(sum).item<double>() - n) / (n * (n - 1.0));
    if (std::isfinite(cosine)) {
      rows.push_back({.split = name, .name = "avg_cosine_last_layer", .value = cosine});
    }
  }
  return rows;
}

}  // namespace istar::trainer::internal
