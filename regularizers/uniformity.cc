// The uniformity loss of Wang & Isola (ICML 2020) over every rank's sentence vectors, and the
// pooling that makes sentence vectors from a batch's hidden states.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/internal/terms.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

// Note [Gathering rows through a sum]
// The pairs of the uniformity loss span ranks, so every rank needs every rank's rows, and a
// CrossRankSum offers only a differentiable sum. A gather is a sum of disjoint parts: each rank
// writes its rows at its offset (the row count of the ranks before it) in a zero [S, d] tensor,
// and the sum over ranks is all the rows in rank order, the same on every rank. The offsets need
// every rank's row count first: a [world] vector holding this rank's count at rank(), summed (one
// more collective of world numbers, without gradient). The backward pass is right as it is: the
// sum's backward all-reduces the gradients of every rank's loss with respect to the gathered
// tensor, and this rank's slice of that is the gradient with respect to its own rows, as a
// differentiable all-gather's would be. The all-reduce moves S d numbers where an all-gather
// moves S d / world per rank: nothing next to the O(S^2 d) pairs for the few hundred sentence
// vectors of a batch.
at::Tensor GatherRows(const at::Tensor& rows, const CrossRankSum& ranks) {
  const int world = ranks.world_size();
  if (world == 1) return rows;
  const int me = ranks.rank();
  ISTAR_CHECK(me >= 0 && me < world)
      << "CrossRankSum::rank() = " << me << " outside [0, " << world << ")";
  at::Tensor mine = at::zeros({world}, rows.options());
  mine.narrow(0, me, 1).fill_(static_cast<double>(rows.size(0)));
  const at::Tensor counts = ranks.Sum(mine).detach().to(at::kCPU, at::kDouble).contiguous();
  std::vector<int64_t> count(world);
  for (int r = 0; r < world; ++r) count[r] = std::llround(counts[r].item<double>());
  int64_t before = 0;
  int64_t total = 0;
  for (int r = 0; r < world; ++r) {
    if (r < me) before += count[r];
    total += count[r];
  }
  ISTAR_CHECK(count[me] == rows.size(0)) << "the gathered row counts disagree with this rank's";
  const int64_t after = total - before - rows.size(0);
  const at::Tensor padded = at::cat({at::zeros({before, rows.size(1)}, rows.options()), rows,
                                     at::zeros({after, rows.size(1)}, rows.options())});
  return ranks.Sum(padded);
}

}  // namespace

absl::StatusOr<at::Tensor> UniformityLoss(const at::Tensor& vectors, double t,
                                          const CrossRankSum& ranks) {
  if (!(std::isfinite(t) && t > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("uniformity: t must be finite and > 0, got ", t));
  }
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows,
                         internal::KeptRows(vectors, {}, "uniformity", "vectors"));
  const at::Tensor all = GatherRows(rows, ranks);
  const int64_t s = all.size(0);
  if (s < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("uniformity: needs at least 2 vectors (over every rank), got ", s));
  }
  constexpr double kEps = 1e-12;
  const at::Tensor units = all / all.norm(2, {1}, /*keepdim=*/true).clamp_min(kEps);
  // Note [Squared distances from the Gram matrix]
  // ||u_i - u_j||^2 = ||u_i||^2 + ||u_j||^2 - 2 u_i . u_j: one S x S product instead of an
  // S x S x d tensor of differences. For close pairs the expansion loses relative precision, but
  // the loss needs only exp(-t D_ij), whose absolute error stays at rounding level; rounding
  // below 0 is clamped. torch.pdist's distance would be squared again here, and the square root's
  // gradient is infinite at distance 0; the squared form is smooth everywhere.
  const at::Tensor sq_norms = (units * units).sum(1);
  const at::Tensor dist_sq =
      (sq_norms.unsqueeze(1) + sq_norms.unsqueeze(0) - 2.0 * units.mm(units.t())).clamp_min(0.0);
  // The P = S (S - 1) / 2 pairs i < j, as indices into the flattened S x S matrix.
  const at::Tensor upper = at::triu_indices(s, s, /*offset=*/1, all.options().dtype(at::kLong));
  const at::Tensor pairs = dist_sq.flatten().index_select(0, upper[0] * s + upper[1]);
  // log-mean-exp, with the maximum taken out (logsumexp): exact for any t.
  const double log_pairs = std::log(static_cast<double>(s) * static_cast<double>(s - 1) / 2.0);
  const at::Tensor value = at::logsumexp(pairs * (-t), {0}) - log_pairs;
  ISTAR_RETURN_IF_ERROR(internal::CheckFinite(value, "uniformity"));
  return value;
}

at::Tensor PoolSentences(const at::Tensor& hidden, const at::Tensor& attention_mask,
                         Pooling pooling) {
  TORCH_CHECK(hidden.defined() && hidden.dim() == 3 && hidden.size(1) >= 1,
              "PoolSentences: hidden must be [B, T, H] with T >= 1, got ",
              hidden.defined() ? hidden.sizes() : at::IntArrayRef{});
  TORCH_CHECK(
      attention_mask.defined() && attention_mask.dim() == 2 &&
          attention_mask.size(0) == hidden.size(0) && attention_mask.size(1) == hidden.size(1),
      "PoolSentences: attention_mask must be [B, T] = [", hidden.size(0), ", ", hidden.size(1),
      "], got ", attention_mask.defined() ? attention_mask.sizes() : at::IntArrayRef{});
  switch (pooling) {
    case Pooling::kFirstToken:
      return hidden.select(1, 0);
    case Pooling::kMean: {
      const at::Tensor real = (attention_mask != 0).to(hidden.options());  // [B, T] of 0 and 1
      // [B, 1, T] x [B, T, H]: the masked sum without a [B, T, H] temporary.
      const at::Tensor sums = at::bmm(real.unsqueeze(1), hidden).squeeze(1);
      return sums / real.sum(1, /*keepdim=*/true).clamp_min(1.0);
    }
  }
  TORCH_CHECK(false, "PoolSentences: unknown pooling");
}

namespace internal {
namespace {

// Note [Uniformity of a point cloud]
// The trainer's point cloud holds tokens; Wang & Isola's loss is over sentence vectors. Each
// sequence's vector is the mean of its real tokens' hidden states (PoolSentences' kMean, from
// the cloud's sequence ids: the cloud holds only real tokens), one set per chosen layer; the term
// is the mean over the layers of each layer's uniformity loss over every rank's sequences. Mean
// pooling rather than the first token ([CLS]): it uses every real token the cloud holds and
// assumes nothing of the model's first token. By default the
// catalogue row reads the last layer only (DefaultLayers::kLast), as the paper regularizes the
// encoder's output.
class UniformityTerm final : public Regularizer {
 public:
  explicit UniformityTerm(double t) : t_(t) {}

  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    ISTAR_RETURN_IF_ERROR(CheckSequences(cloud, "uniformity"));
    const auto options = cloud.points.options();
    const at::Tensor counts = at::zeros({cloud.sequences}, options)
                                  .index_add(0, cloud.sequence, at::ones({cloud.tokens}, options));
    const at::Tensor present = (counts > 0.0).nonzero().squeeze(1);
    const at::Tensor divisor = counts.index_select(0, present).unsqueeze(1);
    // Every layer's sums in one scatter-add over (layer, sequence) groups: slicing the cloud per
    // layer would cost, in the backward pass, a zero tensor of the cloud's size per layer
    // (bench/RESULTS.md, 2026-12-05).
    const int64_t layers = static_cast<int64_t>(cloud.layers.size());
    const at::Tensor sums = at::zeros({layers * cloud.sequences, cloud.points.size(1)}, options)
                                .index_add(0, LayerSequenceGroups(cloud), cloud.points);
    at::Tensor total;
    for (int64_t k = 0; k < layers; ++k) {
      const at::Tensor layer_sums = sums.narrow(0, k * cloud.sequences, cloud.sequences);
      ISTAR_ASSIGN_OR_RETURN(
          const at::Tensor loss,
          UniformityLoss(layer_sums.index_select(0, present) / divisor, t_, *step.ranks));
      total = total.defined() ? total + loss : loss;
    }
    return total / static_cast<double>(cloud.layers.size());
  }

 private:
  double t_;
};

}  // namespace

std::unique_ptr<const Regularizer> MakeUniformity(const ParameterValues& values) {
  return std::make_unique<UniformityTerm>(values.find("t")->second);
}

}  // namespace internal

}  // namespace istar::regularizers
