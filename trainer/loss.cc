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
// scatters gradients to exactly those rows.
PointCloud GatherPoints(const std::vector<at::Tensor>& hidden_states,
                        const at::Tensor& attention_mask, std::span<const int64_t> layers) {
  PointCloud cloud;
  cloud.layers.assign(layers.begin(), layers.end());
  const at::Tensor rows = attention_mask.reshape({-1}).nonzero().reshape({-1});
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
