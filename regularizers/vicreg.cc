// VICReg's variance and covariance terms (Bardes, Ponce & LeCun, ICLR 2022), global over the ranks
// of a worker group through the covariance statistics of covariance.cc.
#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/internal/terms.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {

absl::StatusOr<at::Tensor> VicRegPenalty(const at::Tensor& points, const at::Tensor& keep,
                                         const VicRegOptions& options, const CrossRankSum& ranks) {
  if (!(std::isfinite(options.gamma) && options.gamma >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VICReg: options.gamma must be finite and >= 0, got ", options.gamma));
  }
  if (!(std::isfinite(options.epsilon) && options.epsilon > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VICReg: options.epsilon must be finite and > 0, got ", options.epsilon));
  }
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows, internal::KeptRows(points, keep, "VICReg"));
  ISTAR_ASSIGN_OR_RETURN(const CovarianceStats local, ComputeCovarianceStats(rows));
  // Note [VICReg's covariance over every rank]
  // Both terms are non-linear in the covariance (a hinge on its diagonal's square roots, squares of
  // its entries), so the sum over ranks of per-rank penalties is not the penalty of the batch.
  // The covariance itself merges exactly (Note [Global covariance across ranks] in covariance.cc),
  // so the penalty is computed once from the batch's covariance, the same on every rank. The
  // paper's Var(z_j) (its eq. 2) and C(Z) (its eq. 3) are both the unbiased estimates, so the
  // variances are C's diagonal: one d x d matrix serves both terms.
  const CovarianceStats global = SumOverRanks(local, ranks);
  absl::StatusOr<at::Tensor> cov = SampleCovariance(global);
  if (!cov.ok()) {
    return absl::Status(cov.status().code(), absl::StrCat("VICReg: ", cov.status().message()));
  }
  const double d = static_cast<double>(cov->size(0));
  const at::Tensor variances = cov->diagonal();
  const at::Tensor variance_term =
      at::relu(options.gamma - at::sqrt(variances + options.epsilon)).sum() / d;
  // C - diag(C) is exactly 0 on the diagonal; ||C||_F^2 - sum_j C_jj^2 would cancel when the
  // variances dwarf the covariances, as BERT's outlier dimensions make them.
  const at::Tensor off_diagonal = *cov - at::diag(variances);
  const at::Tensor covariance_term = (off_diagonal * off_diagonal).sum() / d;
  const at::Tensor value = variance_term + covariance_term;
  ISTAR_RETURN_IF_ERROR(internal::CheckFinite(value, "VICReg"));
  return value;
}

namespace internal {
namespace {

// VICReg's variance and covariance terms of every point, with the target deviation gamma.
class VicRegTerm final : public Regularizer {
 public:
  explicit VicRegTerm(double gamma) : gamma_(gamma) {}

  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    return VicRegPenalty(cloud.points, {}, {.gamma = gamma_}, *step.ranks);
  }

 private:
  double gamma_;
};

}  // namespace

std::unique_ptr<const Regularizer> MakeVicReg(const ParameterValues& values) {
  return std::make_unique<VicRegTerm>(values.find("gamma")->second);
}

}  // namespace internal

}  // namespace istar::regularizers
