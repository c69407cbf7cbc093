// The dispersion penalty: the mean pairwise cosine among the rows of each sequence, averaged over
// sequences, in closed form and global over the ranks of a worker group.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/internal/terms.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

absl::Status CheckGroups(const at::Tensor& rows, const at::Tensor& group, int64_t groups) {
  if (groups < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dispersion: groups must be >= 0, got ", groups));
  }
  if (!group.defined() || group.scalar_type() != at::kLong || group.dim() != 1 ||
      group.size(0) != rows.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dispersion: group must be an int64 tensor of shape [", rows.size(0), "] (one id per row)",
        group.defined() ? absl::StrCat(", got ", c10::toString(group.scalar_type()), " with ",
                                       group.dim(), " dimensions and ", group.numel(), " elements")
                        : ", got an undefined tensor"));
  }
  if (group.device() != rows.device()) {
    return absl::InvalidArgumentError(absl::StrCat("dispersion: group is on ", group.device().str(),
                                                   " but points are on ", rows.device().str()));
  }
  if (group.numel() == 0) return absl::OkStatus();
  const at::Tensor range = at::stack({group.min(), group.max()}).to(at::kCPU);
  const int64_t lowest = range[0].item<int64_t>();
  const int64_t highest = range[1].item<int64_t>();
  if (lowest < 0 || highest >= groups) {
    return absl::InvalidArgumentError(
        absl::StrCat("dispersion: group ids must be in [0, groups) = [0, ", groups,
                     "), got ids from ", lowest, " to ", highest));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<at::Tensor> DispersionPenalty(const at::Tensor& points, const at::Tensor& group,
                                             int64_t groups, const CrossRankSum& ranks) {
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows, internal::KeptRows(points, {}, "dispersion"));
  ISTAR_RETURN_IF_ERROR(CheckGroups(rows, group, groups));
  const auto options = rows.options();
  constexpr double kEps = 1e-12;
  const at::Tensor norms = rows.norm(2, {1}, /*keepdim=*/true);
  const at::Tensor units = rows / norms.clamp_min(kEps);
  // Note [Self terms of a unit-vector sum]
  // For the rows of one sequence, ||sum_i u_i||^2 = sum_i ||u_i||^2 + sum_{i != j} u_i . u_j, so
  // the sum of cosines over ordered pairs of distinct rows is ||sum_i u_i||^2 - sum_i ||u_i||^2:
  // O(n d) instead of O(n^2 d). CosReg writes the self terms as N, which is the same number when
  // every row is non-zero; a zero row (u = x / 1e-12, not a unit vector) would make N wrong by
  // one per such row, while sum_i ||u_i||^2 stays exact. It costs one pass over the unit vectors,
  // and its gradient is 0 (up to rounding) wherever ||u_i|| = 1.
  const at::Tensor sums = at::zeros({groups, rows.size(1)}, options).index_add(0, group, units);
  // ||u_i||^2 from the norms ([N]) rather than from the [N, d] unit vectors: the same numbers
  // (up to rounding), without a temporary of the cloud's size and its backward pass.
  const at::Tensor unit_norms = (norms / norms.clamp_min(kEps)).squeeze(1);
  const at::Tensor self_terms =
      at::zeros({groups}, options).index_add(0, group, unit_norms * unit_norms);
  const at::Tensor counts =
      at::zeros({groups}, options).index_add(0, group, at::ones({rows.size(0)}, options));
  // Groups of fewer than 2 rows have no pairs: their term is left out of the sum and of G.
  const at::Tensor counted = (counts >= 2.0).to(options);
  const at::Tensor pair_counts = (counts * (counts - 1.0)).clamp_min(1.0);
  const at::Tensor terms = ((sums * sums).sum(1) - self_terms) / pair_counts * counted;
  // Sequences do not span ranks: the batch's value is (sum of every rank's terms) / (every
  // rank's G), two numbers summed over the ranks.
  const at::Tensor local = at::stack({terms.sum(), counted.sum()});
  const at::Tensor totals = ranks.world_size() == 1 ? local : ranks.Sum(local);
  const double sequences = totals[1].item<double>();
  if (sequences < 1.0) {
    return absl::InvalidArgumentError(
        "dispersion: needs at least one sequence with 2 or more rows (over every rank), got none");
  }
  const at::Tensor value = totals[0] / totals[1];
  ISTAR_RETURN_IF_ERROR(internal::CheckFinite(value, "dispersion"));
  return value;
}

namespace internal {
namespace {

// The dispersion penalty of a point cloud: each (layer, sequence) pair is one group, so the term
// is the mean over every layer's sequences of the mean cosine among that sequence's tokens.
class DispersionTerm final : public Regularizer {
 public:
  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    ISTAR_RETURN_IF_ERROR(CheckSequences(cloud, "dispersion"));
    return DispersionPenalty(cloud.points, LayerSequenceGroups(cloud),
                             static_cast<int64_t>(cloud.layers.size()) * cloud.sequences,
                             *step.ranks);
  }
};

}  // namespace

std::unique_ptr<const Regularizer> MakeDispersion(const ParameterValues&) {
  return std::make_unique<DispersionTerm>();
}

}  // namespace internal

}  // namespace istar::regularizers
