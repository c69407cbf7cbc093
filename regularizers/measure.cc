#include "regularizers/measure.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/isotropy.h"
#include "torch_boundary/torch_boundary.h"

namespace istar::regularizers {
namespace {

// A float64 tensor that views `matrix` (no copy). The tensor is only read.
at::Tensor View(const arrays::Matrix& matrix) {
  return at::from_blob(const_cast<double*>(matrix.values.data()), {matrix.rows, matrix.cols},
                       at::TensorOptions().dtype(at::kDouble));
}

absl::StatusOr<IsotropyReport> Measure(const arrays::Matrix& points,
                                       const MeasureOptions& options) {
  if (points.values.size() != static_cast<size_t>(points.rows * points.cols)) {
    return absl::InvalidArgumentError("points: values do not match rows x cols");
  }
  at::NoGradGuard no_grad;
  const at::Tensor cloud = View(points);
  IsoScoreStarOptions star{.zeta = options.zeta};
  if (options.shrinkage != nullptr) star.shrinkage = View(*options.shrinkage);
  IsotropyReport report{.points = points.rows, .dims = points.cols};
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor iso_star, IsoScoreStar(cloud, {}, star));
  report.isoscore_star = iso_star.item<double>();
  if (options.isoscore) {
    ISTAR_ASSIGN_OR_RETURN(report.isoscore, IsoScore(cloud));
  }
  if (options.average_cosine) {
    ISTAR_ASSIGN_OR_RETURN(report.average_cosine, AverageCosineSimilarity(cloud));
  }
  if (options.twonn) {
    ISTAR_ASSIGN_OR_RETURN(report.twonn, TwoNNIntrinsicDimension(cloud));
  }
  return report;
}

}  // namespace

absl::StatusOr<IsotropyReport> MeasureIsotropy(const arrays::Matrix& points,
                                               const MeasureOptions& options) {
  // The one place where this module's LibTorch exceptions meet torch-free callers.
  return CatchTorch("LibTorch", [&] { return Measure(points, options); });
}

}  // namespace istar::regularizers
