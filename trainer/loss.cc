#include "trainer/loss.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
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
  return cloud;
}

at::Tensor ClassificationLoss(const at::Tensor& logits, const at::Tensor& labels) {
  return at::nll_loss(at::log_softmax(logits, -1), labels);
}

at::Tensor SpanLoss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                    const at::Tensor& start_positions, const at::Tensor& end_positions) {
  return (ClassificationLoss(start_logits, start_positions) +
          ClassificationLoss(end_logits, end_positions)) /
         2.0;
}

absl::StatusOr<StepLoss> AddRegularizer(const at::Tensor& task_loss, const PointCloud& cloud,
                                        const RegularizerSettings& regularizer) {
  StepLoss loss;
  loss.task = task_loss;
  switch (regularizer.kind) {
    case sweeps::Regularizer::kBaseline:
      loss.regularizer = at::zeros({}, loss.task.options());
      break;
    case sweeps::Regularizer::kCosReg: {
      ISTAR_ASSIGN_OR_RETURN(at::Tensor penalty, regularizers::CosRegPenalty(cloud.points, {}));
      loss.regularizer = regularizer.lambda * penalty.to(loss.task.scalar_type());
      break;
    }
    case sweeps::Regularizer::kIStar: {
      ISTAR_ASSIGN_OR_RETURN(
          at::Tensor iso,
          regularizers::IsoScoreStar(
              cloud.points, {}, {.zeta = regularizer.zeta, .shrinkage = regularizer.shrinkage}));
      loss.regularizer = regularizer.lambda * (1.0 - iso.to(loss.task.scalar_type()));
      break;
    }
  }
  loss.total = loss.task + loss.regularizer;
  return loss;
}

absl::StatusOr<StepLoss> ComputeLoss(const at::Tensor& logits, const at::Tensor& labels,
                                     const PointCloud& cloud,
                                     const RegularizerSettings& regularizer) {
  return AddRegularizer(ClassificationLoss(logits, labels), cloud, regularizer);
}

absl::StatusOr<IsotropyMeasures> MeasureIsotropy(const at::Tensor& points, double zeta,
                                                 const at::Tensor& shrinkage) {
  at::NoGradGuard no_grad;
  const at::Tensor detached = points.detach();
  IsotropyMeasures measures;
  const bool shrink = zeta > 0.0 && shrinkage.defined();
  ISTAR_ASSIGN_OR_RETURN(at::Tensor star, regularizers::IsoScoreStar(
                                              detached, {},
                                              {.zeta = shrink ? zeta : 0.0,
                                               .shrinkage = shrink ? shrinkage : at::Tensor()}));
  measures.isoscore_star = star.item<double>();
  ISTAR_ASSIGN_OR_RETURN(measures.isoscore, regularizers::IsoScore(detached));
  ISTAR_ASSIGN_OR_RETURN(measures.avg_cosine, regularizers::AverageCosineSimilarity(detached));
  return measures;
}

}  // namespace istar::trainer
