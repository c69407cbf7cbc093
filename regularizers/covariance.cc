// Covariance sufficient statistics: computing, merging, summing over ranks, and the streaming
// float64 estimate of the shrinkage matrix S0.
#include <algorithm>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

// Note [Scatter matrix with a one-product backward]
// The scatter matrix is M = Xc^T Xc with Xc = X - mean(X). Written as autograd ops, its backward
// spends two N x d x d products (autograd's matmul treats the two operands as independent:
// G Xc^T and Xc G) and several N x d passes through the mean. Both are unneeded:
//  - the two operands are one tensor, so dL/dXc = Xc (G + G^T): one product;
//  - the gradient through the mean is -(1/N) sum_i dL/dXc_i = -(1/N) (sum_i Xc_i)(G + G^T) = 0,
//    since centred rows sum to zero. So dL/dX = Xc (G + G^T) exactly, and the mean enters as a
//    constant.
// Forward + backward thus costs two products the size of the covariance itself
// (bench/regularizers_bench.cc measures it against autograd's version).
class CentredScatterFunction : public torch::autograd::Function<CentredScatterFunction> {
 public:
  // `rows` [N, d]; `mean` [d], their mean, not differentiated (see the Note).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows,
                            const at::Tensor& mean) {
    const at::Tensor centred = rows - mean;
    ctx->save_for_backward({centred});
    return centred.t().mm(centred);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor centred = ctx->get_saved_variables()[0];
    const at::Tensor& g = grads[0];
    return {centred.mm(g + g.t()), at::Tensor()};
  }
};

// Mean of statistics with count possibly 0 (then the mean is taken as 0, and it is always
// multiplied by the count 0 where it is used).
at::Tensor SafeMean(const CovarianceStats& s) { return s.sum / s.count.clamp_min(1); }

class LocalSumImpl final : public CrossRankSum {
 public:
  int world_size() const override { return 1; }
  int rank() const override { return 0; }
  at::Tensor Sum(const at::Tensor& local) const override { return local; }
};

}  // namespace

const CrossRankSum& LocalSum() {
  static const LocalSumImpl* const kLocal = new LocalSumImpl();
  return *kLocal;
}

absl::StatusOr<CovarianceStats> ComputeCovarianceStats(const at::Tensor& points,
                                                       const at::Tensor& keep) {
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows,
                         internal::KeptRows(points, keep, "covariance statistics"));
  const at::Tensor sum = rows.sum(0);
  const int64_t n = rows.size(0);
  const at::Tensor count = at::scalar_tensor(static_cast<double>(n), sum.options());
  // Note [Centre before the scatter matrix]
  // BERT's hidden states have outlier dimensions whose mean is large next to their spread.
  // E[xx^T] - mu mu^T then cancels catastrophically in float32; centring first keeps every term
  // of the product on the scale of the spread.
  const at::Tensor scatter =
      n == 0 ? at::zeros({rows.size(1), rows.size(1)}, sum.options())
             : CentredScatterFunction::apply(rows, sum.detach() / static_cast<double>(n));
  return CovarianceStats{count, sum, scatter};
}

CovarianceStats MergeCovarianceStats(const CovarianceStats& a, const CovarianceStats& b) {
  // Chan, Golub & LeVeque: M = Ma + Mb + delta delta^T * na nb / n, delta = mean_b - mean_a.
  const at::Tensor count = a.count + b.count;
  const at::Tensor delta = SafeMean(b) - SafeMean(a);
  const at::Tensor weight = a.count * b.count / count.clamp_min(1);
  return CovarianceStats{count, a.sum + b.sum,
                         a.scatter + b.scatter + weight * at::outer(delta, delta)};
}

// Note [Global covariance across ranks]
// Every rank holds the statistics of its own slice of the batch. Summing the scatter matrices
// alone is wrong (each is centred on its own slice's mean), and summing raw second moments
// E[xx^T] loses the centring (Note [Centre before the scatter matrix]). So: (1) sum (count, sum)
// over ranks, d + 1 numbers, which gives the global mean mu; (2) shift each rank's scatter to the
// global mean, S_r + n_r (mu_r - mu)(mu_r - mu)^T (the parallel-axis identity, exact), and sum
// those, d^2 numbers. Both sums are differentiable, so every rank's gradient is the gradient of
// the whole batch's IsoScore*: the same as one process that holds every row.
CovarianceStats SumOverRanks(const CovarianceStats& local, const CrossRankSum& ranks) {
  if (ranks.world_size() == 1) return local;
  const int64_t d = local.sum.size(0);
  const at::Tensor totals = ranks.Sum(at::cat({local.count.reshape({1}), local.sum}));
  const at::Tensor count = totals[0];
  const at::Tensor sum = totals.slice(0, 1, d + 1);
  const at::Tensor delta = SafeMean(local) - sum / count.clamp_min(1);
  const at::Tensor shifted = local.scatter + local.count * at::outer(delta, delta);
  return CovarianceStats{count, sum, ranks.Sum(shifted)};
}

absl::StatusOr<at::Tensor> SampleCovariance(const CovarianceStats& stats) {
  const double count = stats.count.item<double>();
  if (count < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a covariance needs at least 2 points, got ", count));
  }
  return stats.scatter / (count - 1);
}

ShrinkageEstimator::ShrinkageEstimator(int64_t dims, int64_t point_budget, at::Device device)
    : dims_(dims), point_budget_(point_budget) {
  const auto options = at::TensorOptions().dtype(at::kDouble).device(device);
  stats_ = CovarianceStats{at::zeros({}, options), at::zeros({dims}, options),
                           at::zeros({dims, dims}, options)};
}

absl::StatusOr<int64_t> ShrinkageEstimator::Add(const at::Tensor& points, const at::Tensor& keep) {
  at::NoGradGuard no_grad;
  ISTAR_ASSIGN_OR_RETURN(at::Tensor rows, internal::KeptRows(points, keep, "shrinkage estimator"));
  if (rows.size(1) != dims_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shrinkage estimator: batch has d = ", rows.size(1), ", expected d = ", dims_));
  }
  const int64_t take = std::min<int64_t>(rows.size(0), point_budget_ - points_);
  if (take <= 0) return 0;
  rows = rows.slice(0, 0, take).to(stats_.sum.device(), at::kDouble);
  ISTAR_ASSIGN_OR_RETURN(const CovarianceStats batch, ComputeCovarianceStats(rows));
  stats_ = MergeCovarianceStats(stats_, batch);
  points_ += take;
  return take;
}

absl::StatusOr<at::Tensor> ShrinkageEstimator::Finish(const CrossRankSum& ranks) const {
  at::NoGradGuard no_grad;
  return SampleCovariance(SumOverRanks(stats_, ranks));
}

}  // namespace istar::regularizers
