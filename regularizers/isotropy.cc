// IsoScore*, CosReg and the analysis measures built on them, in closed form.
#include "regularizers/isotropy.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/internal/terms.h"

namespace istar::regularizers {
namespace {

absl::Status Prefixed(const absl::Status& status, const char* what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

absl::Status CheckShrinkageOptions(const IsoScoreStarOptions& options, int64_t d) {
  if (!(options.zeta >= 0.0 && options.zeta <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IsoScore*: zeta must be in [0, 1], got ", options.zeta));
  }
  if (options.zeta == 0.0) return absl::OkStatus();
  const at::Tensor& s0 = options.shrinkage;
  if (!s0.defined()) {
    return absl::InvalidArgumentError(
        absl::StrCat("IsoScore*: zeta = ", options.zeta, " needs a shrinkage matrix S0"));
  }
  if (s0.dim() != 2 || s0.size(0) != d || s0.size(1) != d) {
    return absl::InvalidArgumentError(absl::StrCat("IsoScore*: shrinkage matrix must be [", d,
                                                   ", ", d, "] to match the points"));
  }
  return absl::OkStatus();
}

// Sum of the unit vectors x_i / ||x_i|| over the kept rows of every rank, and their number.
struct UnitSum {
  at::Tensor count;  // 0-dim
  at::Tensor sum;    // [d]
};

// Note [Unit-vector sum in two passes]
// CosReg needs s = sum_i x_i / n_i with n_i = max(||x_i||, eps). As autograd ops (norm, divide,
// sum) that is a chain of N x d temporaries, each read again by the backward: memory traffic, not
// arithmetic, sets the time. Here the forward is two passes over X (the norms, then s = X^T (1/n)
// as one matrix-vector product) and the backward, from
//     dL/dx_i = g / n_i - (x_i . g) x_i / n_i^3     (the second term only where n_i > eps),
// is one matrix-vector product X g and one pass that writes the gradient.
class UnitVectorSumFunction : public torch::autograd::Function<UnitVectorSumFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows) {
    constexpr double kEps = 1e-12;
    const at::Tensor norms = rows.norm(2, {1});
    const at::Tensor inverse = norms.clamp_min(kEps).reciprocal();
    // -1/n^3 where the norm was not clamped (the unit vector depends on the direction only).
    const at::Tensor projection = -inverse.pow(3) * (norms > kEps).to(rows.scalar_type());
    ctx->save_for_backward({rows, inverse, projection});
    return rows.t().mv(inverse);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& rows = saved[0];
    const at::Tensor& g = grads[0];
    at::Tensor grad = rows * (rows.mv(g) * saved[2]).unsqueeze(1);
    grad.addr_(saved[1], g);
    return {grad};
  }
};

absl::StatusOr<UnitSum> SumOfUnitVectors(const at::Tensor& rows, const CrossRankSum& ranks,
                                         const char* what) {
  const at::Tensor local = at::cat(
      {at::scalar_tensor(static_cast<double>(rows.size(0)), rows.options()).reshape({1}),
       UnitVectorSumFunction::apply(rows)});
  const at::Tensor totals = ranks.world_size() == 1 ? local : ranks.Sum(local);
  const at::Tensor count = totals[0];
  if (count.item<double>() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": needs at least 2 points, got ", count.item<double>()));
  }
  return UnitSum{count, totals.slice(0, 1)};
}

}  // namespace

absl::StatusOr<at::Tensor> IsoScoreOfCovariance(const at::Tensor& cov) {
  if (!cov.defined() || cov.dim() != 2 || cov.size(0) != cov.size(1) || cov.size(0) < 2) {
    return absl::InvalidArgumentError(
        "IsoScore*: the covariance must be a square [d, d] matrix with d >= 2");
  }
  // Note [Closed-form IsoScore*]
  // The published IsoScore* scales the eigenvalues l of S to norm sqrt(d), takes their distance
  // to the all-ones vector, normalises and rescales it. Since sum(l) = trace(S) and
  // ||l|| = ||S||_F for a symmetric positive semi-definite S, the whole chain collapses to
  // (PR - 1) / (d - 1) with PR = trace(S)^2 / ||S||_F^2. Exact, and it needs no eigenvalues:
  // the SVD's backward pass, slow and unstable for close eigenvalues, disappears.
  // docs/isotropy.md has the derivation.
  const at::Tensor trace = cov.diagonal().sum();
  const at::Tensor frobenius_sq = (cov * cov).sum();
  const at::Tensor host = at::stack({trace, frobenius_sq}).detach().to(at::kCPU, at::kDouble);
  const double trace_value = host[0].item<double>();
  const double frobenius_value = host[1].item<double>();
  if (!std::isfinite(trace_value) || !std::isfinite(frobenius_value)) {
    return absl::InvalidArgumentError("IsoScore*: points hold NaN or infinite values");
  }
  if (frobenius_value == 0.0) {
    return absl::InvalidArgumentError(
        "IsoScore*: the covariance is zero (all points identical); isotropy is undefined");
  }
  const double d = static_cast<double>(cov.size(0));
  return (trace * trace / frobenius_sq - 1.0) / (d - 1.0);
}

absl::StatusOr<at::Tensor> IsoScoreStar(const at::Tensor& points, const at::Tensor& keep,
                                        const IsoScoreStarOptions& options) {
  ISTAR_ASSIGN_OR_RETURN(const CovarianceStats local, ComputeCovarianceStats(points, keep));
  const int64_t d = local.sum.size(0);
  ISTAR_RETURN_IF_ERROR(CheckShrinkageOptions(options, d));
  const CovarianceStats global =
      SumOverRanks(local, options.ranks != nullptr ? *options.ranks : LocalSum());
  absl::StatusOr<at::Tensor> cov = SampleCovariance(global);
  if (!cov.ok()) return Prefixed(cov.status(), "IsoScore*");
  if (options.zeta > 0.0) {
    const at::Tensor s0 = options.shrinkage.detach().to(cov->options());
    *cov = (1.0 - options.zeta) * *cov + options.zeta * s0;
  }
  return IsoScoreOfCovariance(*cov);
}

absl::StatusOr<at::Tensor> CosRegPenalty(const at::Tensor& points, const at::Tensor& keep,
                                         const CrossRankSum& ranks) {
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows, internal::KeptRows(points, keep, "CosReg"));
  ISTAR_ASSIGN_OR_RETURN(const UnitSum units, SumOfUnitVectors(rows, ranks, "CosReg"));
  // Note [Closed-form CosReg]
  // ||sum_i u_i||^2 = sum_i sum_j u_i . u_j = N + sum_{i != j} cos(x_i, x_j) for unit vectors
  // u_i, so the published mean of the N x N cosine matrix's off-diagonal entries (over N^2) is
  // (||sum_i u_i||^2 - N) / N^2: O(N d) time and O(d) memory instead of O(N^2).
  const at::Tensor value = (units.sum.dot(units.sum) - units.count) / (units.count * units.count);
  ISTAR_RETURN_IF_ERROR(internal::CheckFinite(value, "CosReg"));
  return value;
}

absl::StatusOr<double> IsoScore(const at::Tensor& points, const at::Tensor& keep,
                                const CrossRankSum& ranks) {
  at::NoGradGuard no_grad;
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor value, IsoScoreStar(points, keep, {.ranks = &ranks}));
  return value.item<double>();
}

absl::StatusOr<double> AverageCosineSimilarity(const at::Tensor& points, const at::Tensor& keep,
                                               const CrossRankSum& ranks) {
  at::NoGradGuard no_grad;
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows,
                         internal::KeptRows(points, keep, "average cosine similarity"));
  ISTAR_ASSIGN_OR_RETURN(
      const UnitSum units,
      SumOfUnitVectors(rows.to(at::kDouble), ranks, "average cosine similarity"));
  const double n = units.count.item<double>();
  const double value = (units.sum.dot(units.sum).item<double>() - n) / (n * (n - 1.0));
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        "average cosine similarity: points hold NaN or infinite values");
  }
  return value;
}

namespace internal {
namespace {

// CosReg's term: the mean pairwise cosine similarity of every point.
class CosRegTerm final : public Regularizer {
 public:
  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    return CosRegPenalty(cloud.points, {}, *step.ranks);
  }
};

// I-STAR's term: 1 - IsoScore* of every point, shrunk towards the step's S0 by zeta.
class IStarTerm final : public Regularizer {
 public:
  explicit IStarTerm(double zeta) : zeta_(zeta) {}

  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    ISTAR_ASSIGN_OR_RETURN(
        const at::Tensor iso,
        IsoScoreStar(cloud.points, {},
                     {.zeta = zeta_, .shrinkage = step.shrinkage, .ranks = step.ranks}));
    return 1.0 - iso;
  }

 private:
  double zeta_;
};

}  // namespace

std::unique_ptr<const Regularizer> MakeCosReg(const ParameterValues&) {
  return std::make_unique<CosRegTerm>();
}

std::unique_ptr<const Regularizer> MakeIStar(const ParameterValues& values) {
  return std::make_unique<IStarTerm>(values.find("zeta")->second);
}

}  // namespace internal

}  // namespace istar::regularizers
