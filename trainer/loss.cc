#include "trainer/loss.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "regularizers/isotropy.h"

namespace istar::trainer {

absl::StatusOr<std::vector<int64_t>> ResolveLayers(int64_t num_layers,
                                                   std::span<const int64_t> requested) {
  std::vector<int64_t> layers(requested.begin(), requested.end());
  std::replace(layers.begin(), layers.end(), sweeps::kLastLayer, num_layers);
  if (layers.empty()) {
    for (int64_t l = 1; l <= num_layers; ++l) layers.push_back(l);
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (int64_t layer : layers) {
    if (layer < 1 || layer > num_layers) {
      return absl::InvalidArgumentError(
          absl::StrCat("regularizer_layers: layer ", layer, " is not in 1..", num_layers));
    }
  }
  return layers;
}

// Note [Selecting real tokens]: the rows of padding tokens are dropped with index_select rather
// than passed to the regularizers as a `keep` mask, so every statistic is computed on the N real
// rows only (padding can be a large share of a dynamically padded batch) and the backward pass
// scatters gradients to exactly those rows. PointCloudPadding::kInclude keeps every row instead
// (the published I-STAR code takes the padded batch's hidden states as they are).
PointCloud GatherPoints(const std::vector<at::Tensor>& hidden_states,
                        const at::Tensor& attention_mask, std::span<const int64_t> layers,
                        sweeps::PointCloudPadding padding) {
  PointCloud cloud;
  cloud.layers.assign(layers.begin(), layers.end());
  const at::Tensor rows =
      padding == sweeps::PointCloudPadding::kInclude
          ? at::arange(attention_mask.numel(), attention_mask.options().dtype(at::kLong))
          : attention_mask.reshape({-1}).nonzero().reshape({-1});
  cloud.tokens = rows.size(0);
  std::vector<at::Tensor> parts;
  parts.reserve(layers.size());
  for (int64_t layer : layers) {
    const at::Tensor& h = hidden_states.at(static_cast<size_t>(layer));
    parts.push_back(h.reshape({-1, h.size(-1)}).index_select(0, rows));
  }
  cloud.points = parts.size() == 1 ? parts[0] : at::cat(parts, 0);
  cloud.sequence = at::floor_divide(rows, attention_mask.size(1));
  cloud.sequences = attention_mask.size(0);
  return cloud;
}

at::Tensor ClassificationLoss(const at::Tensor& logits, const at::Tensor& labels) {
  return at::nll_loss(at::log_softmax(logits, -1), labels);
}

at::Tensor ClassificationLossSum(const at::Tensor& logits, const at::Tensor& labels) {
  return at::nll_loss(at::log_softmax(logits, -1), labels, {}, at::Reduction::Sum);
}

at::Tensor SpanLoss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                    const at::Tensor& start_positions, const at::Tensor& end_positions) {
  return (ClassificationLoss(start_logits, start_positions) +
          ClassificationLoss(end_logits, end_positions)) /
         2.0;
}

at::Tensor SpanLossSum(const at::Tensor& start_logits, const at::Tensor& end_logits,
                       const at::Tensor& start_positions, const at::Tensor& end_positions) {
  return (ClassificationLossSum(start_logits, start_positions) +
          ClassificationLossSum(end_logits, end_positions)) /
         2.0;
}

uint64_t DrawSeed(int64_t seed, int64_t step) {
  // SplitMix64 (Steele, Lea & Flood 2014) of the seed, then of that mixed with the step.
  const auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(step));
}

absl::StatusOr<std::unique_ptr<const regularizers::Regularizer>> MakeTerm(
    const RegularizerSettings& settings) {
  regularizers::ParameterValues values(settings.parameters.begin(), settings.parameters.end());
  // zeta has a field of its own (and a column in the database) but is I-STAR's parameter only.
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(settings.name);
  if (spec != nullptr && spec->FindParameter("zeta") != nullptr) {
    values.emplace("zeta", settings.zeta);
  }
  return regularizers::MakeRegularizer(settings.name, values);
}

bool HasTerm(const RegularizerSettings& regularizer) {
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(regularizer.name);
  return spec != nullptr && spec->has_lambda();
}

bool NeedsShrinkage(const RegularizerSettings& regularizer) {
  const catalog::RegularizerSpec* spec = catalog::FindRegularizer(regularizer.name);
  return spec != nullptr && spec->uses_shrinkage && regularizer.zeta > 0.0;
}

absl::Status CheckTrainable(const RegularizerSettings& regularizer) {
  return MakeTerm(regularizer).status();
}

namespace {

// Note [Per-rank isotropy scope]
// Under IsotropyScope::kPerRank rank r computes its term reg_r = lambda * term(X_r) on its own
// points X_r only (LocalSum: no collective inside the term), as one GPU of the published
// data-parallel code does. The step's regularizer is their mean over the R' ranks that have one,
// reg = (1/R') sum_r reg_r, and rank r back-propagates
//     O_r = R * (1/B) sum_{i in r} l_i + (R / R') reg_r      (no reg_r for a rank left out).
// reg_r depends on the weights only through rank r's own forward pass, so its gradient is
// complete on rank r, and the ranks' average of grad O_r is
//     (1/B) sum_i grad l_i + (1/R') sum_r grad reg_r = grad (task + reg):
// the step descends the logged loss, as under the global scope. With every rank counted
// R / R' = 1, and with equal shards O_r is the published per-GPU loss (local mean + term) that
// DDP averages. A rank is left out when its points are finite and the term still rejects them
// (too few points or sequences, e.g. no rows in an epoch's tail); non-finite points on any rank
// reject the step on every rank, as under the global scope. One sum of (reg_r, counted, broken)
// over the ranks makes the decision common.
absl::StatusOr<StepLoss> PerRankStepLoss(const regularizers::Regularizer& term,
                                         const at::Tensor& share, const PointCloud& cloud,
                                         const RegularizerSettings& regularizer,
                                         const regularizers::CrossRankSum& ranks) {
  const absl::StatusOr<at::Tensor> own = term.Term(cloud, {.ranks = &regularizers::LocalSum(),
                                                           .shrinkage = regularizer.shrinkage,
                                                           .draw_seed = regularizer.draw_seed});
  const at::Tensor value =
      own.ok() ? regularizer.lambda * own->to(share.scalar_type()) : at::Tensor();
  const bool broken = !own.ok() && cloud.points.defined() && cloud.points.numel() > 0 &&
                      !at::isfinite(cloud.points.detach()).all().item<bool>();
  StepLoss loss;
  at::Tensor sums;
  {
    at::NoGradGuard no_grad;
    const at::TensorOptions options = share.options();
    sums = ranks.Sum(at::stack({value.defined() ? value.detach() : at::zeros({}, options),
                                at::scalar_tensor(value.defined() ? 1.0 : 0.0, options),
                                at::scalar_tensor(broken ? 1.0 : 0.0, options)}));
  }
  const double counted = sums[1].item<double>();
  if (sums[2].item<double>() > 0.0 || counted == 0.0) {
    if (!own.ok()) return own.status();
    return absl::InvalidArgumentError(
        "regularizer: another rank's point cloud was rejected (isotropy_scope: per_rank)");
  }
  const double world = static_cast<double>(ranks.world_size());
  {
    at::NoGradGuard no_grad;
    loss.regularizer = sums[0] / counted;
    loss.task = ranks.Sum(share.detach().reshape({1})).reshape({});
    loss.total = loss.task + loss.regularizer;
  }
  // A rank left out still differentiates through its (empty) cloud, as the accumulated step's
  // first pass expects a gradient for it.
  const at::Tensor mine = value.defined() ? value * (world / counted)
                          : cloud.points.defined()
                              ? (cloud.points.sum() * 0.0).to(share.scalar_type())
                              : at::zeros({}, share.options());
  loss.objective = world * share + mine;
  return loss;
}

}  // namespace

// Note [Per-rank objective]
// The whole batch's loss is L = (1/B) sum_i l_i + reg, B = global_rows, reg computed on every
// rank's points through differentiable all-reduces. Rank r back-propagates
//     O_r = R * (1/B) sum_{i in r} l_i + reg,
// and the ranks then average their gradients. The task part averages to (1/B) sum_i grad l_i
// whatever the shard sizes (uneven tails included). For reg, every rank's loss holds the same
// reg, so the all-reduce's backward hands each rank's points R times dreg/d(points); averaging
// divides that R back out. So mean_r grad O_r = grad L: the step one process would take. With
// equal shards, O_r is the familiar "local mean loss + regularizer" of data parallelism.
absl::StatusOr<StepLoss> ComputeStepLoss(const at::Tensor& task_loss_sum, int64_t global_rows,
                                         const PointCloud& cloud,
                                         const RegularizerSettings& regularizer,
                                         const regularizers::CrossRankSum& ranks) {
  StepLoss loss;
  const at::Tensor share = task_loss_sum / static_cast<double>(global_rows);
  ISTAR_ASSIGN_OR_RETURN(const std::unique_ptr<const regularizers::Regularizer> term,
                         MakeTerm(regularizer));
  if (term != nullptr && regularizer.scope == sweeps::IsotropyScope::kPerRank &&
      ranks.world_size() > 1) {
    return PerRankStepLoss(*term, share, cloud, regularizer, ranks);
  }
  if (term == nullptr) {
    loss.regularizer = at::zeros({}, share.options());
  } else {
    ISTAR_ASSIGN_OR_RETURN(const at::Tensor value,
                           term->Term(cloud, {.ranks = &ranks,
                                              .shrinkage = regularizer.shrinkage,
                                              .draw_seed = regularizer.draw_seed}));
    loss.regularizer = regularizer.lambda * value.to(share.scalar_type());
  }
  if (ranks.world_size() == 1) {
    loss.task = share;
    loss.total = share + loss.regularizer;
    loss.objective = loss.total;
    return loss;
  }
  const double world = static_cast<double>(ranks.world_size());
  {
    at::NoGradGuard no_grad;
    loss.task = ranks.Sum(share.detach().reshape({1})).reshape({});
    loss.total = loss.task + loss.regularizer.detach();
  }
  loss.objective = world * share + loss.regularizer;
  return loss;
}

absl::StatusOr<StepLoss> AddRegularizer(const at::Tensor& task_loss, const PointCloud& cloud,
                                        const RegularizerSettings& regularizer) {
  // A mean is the sum of a one-row batch.
  return ComputeStepLoss(task_loss, 1, cloud, regularizer);
}

absl::StatusOr<StepLoss> ComputeLoss(const at::Tensor& logits, const at::Tensor& labels,
                                     const PointCloud& cloud,
                                     const RegularizerSettings& regularizer) {
  return AddRegularizer(ClassificationLoss(logits, labels), cloud, regularizer);
}

absl::StatusOr<IsotropyMeasures> MeasureIsotropy(const at::Tensor& points, double zeta,
                                                 const at::Tensor& shrinkage,
                                                 const regularizers::CrossRankSum& ranks) {
  at::NoGradGuard no_grad;
  const at::Tensor detached = points.detach();
  IsotropyMeasures measures;
  const bool shrink = zeta > 0.0 && shrinkage.defined();
  ISTAR_ASSIGN_OR_RETURN(at::Tensor star, regularizers::IsoScoreStar(
                                              detached, {},
                                              {.zeta = shrink ? zeta : 0.0,
                                               .shrinkage = shrink ? shrinkage : at::Tensor(),
                                               .ranks = &ranks}));
  measures.isoscore_star = star.item<double>();
  ISTAR_ASSIGN_OR_RETURN(measures.isoscore, regularizers::IsoScore(detached, {}, ranks));
  ISTAR_ASSIGN_OR_RETURN(measures.avg_cosine,
                         regularizers::AverageCosineSimilarity(detached, {}, ranks));
  return measures;
}

}  // namespace istar::trainer
