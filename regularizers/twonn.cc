// The TwoNN intrinsic-dimension estimator (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 2017).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

// Returns mu_i = r2 / r1 for every point whose nearest neighbour is not at distance 0.
// Distances are found block by block as ||a||^2 + ||b||^2 - 2 a.b (one matrix product per block)
// on centred points; the two nearest neighbours' distances are then recomputed directly from the
// differences, so the ratio does not suffer the expansion's cancellation for close points.
std::vector<double> NeighbourRatios(const at::Tensor& centred, int64_t block_rows) {
  const int64_t n = centred.size(0);
  const at::Tensor sq_norms = (centred * centred).sum(1);
  std::vector<double> ratios;
  ratios.reserve(n);
  for (int64_t begin = 0; begin < n; begin += block_rows) {
    const int64_t end = std::min(n, begin + block_rows);
    const at::Tensor block = centred.slice(0, begin, end);
    at::Tensor dist_sq = sq_norms.slice(0, begin, end).unsqueeze(1) + sq_norms.unsqueeze(0) -
                         2.0 * block.mm(centred.t());
    // A point is not its own neighbour.
    dist_sq.diagonal(/*offset=*/begin).fill_(std::numeric_limits<double>::infinity());
    const at::Tensor nearest = std::get<1>(dist_sq.topk(2, /*dim=*/1, /*largest=*/false));
    const at::Tensor r1 = (block - centred.index_select(0, nearest.select(1, 0))).norm(2, 1);
    const at::Tensor r2 = (block - centred.index_select(0, nearest.select(1, 1))).norm(2, 1);
    const auto r1_values = r1.accessor<double, 1>();
    const auto r2_values = r2.accessor<double, 1>();
    for (int64_t i = 0; i < end - begin; ++i) {
      if (r1_values[i] > 0.0) ratios.push_back(r2_values[i] / r1_values[i]);
    }
  }
  return ratios;
}

}  // namespace

absl::StatusOr<double> TwoNNIntrinsicDimension(const at::Tensor& points, const at::Tensor& keep,
                                               const TwoNNOptions& options) {
  if (!(options.discard_fraction >= 0.0 && options.discard_fraction < 1.0) ||
      options.block_rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("TwoNN: discard_fraction must be in [0, 1) and block_rows >= 1, got ",
                     options.discard_fraction, " and ", options.block_rows));
  }
  at::NoGradGuard no_grad;
  ISTAR_ASSIGN_OR_RETURN(at::Tensor rows, internal::KeptRows(points, keep, "TwoNN"));
  rows = rows.to(at::kCPU, at::kDouble);
  if (rows.size(0) < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("TwoNN: needs at least 3 points, got ", rows.size(0)));
  }
  if (!at::isfinite(rows).all().item<bool>()) {
    return absl::InvalidArgumentError("TwoNN: points hold NaN or infinite values");
  }
  std::vector<double> mu = NeighbourRatios(rows - rows.mean(0), options.block_rows);
  std::sort(mu.begin(), mu.end());
  const auto n = static_cast<int64_t>(mu.size());
  // Note [TwoNN as scikit-dimension fits it]
  // skdim.id.TwoNN keeps the kept = floor(n (1 - discard_fraction)) smallest ratios, gives the
  // i-th of them (0-based) the empirical CDF F = i / n, and fits -log(1 - F) = D log(mu) through
  // the origin. F starts at 0 and stays below 1 (kept <= n), so nothing diverges; n counts the
  // points with a non-duplicate nearest neighbour (skdim has no such rule: a duplicate gives it an
  // infinite ratio). floor of the same double product as Python's int(N * (1 - f)).
  const auto kept =
      static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - options.discard_fraction)));
  double xy = 0.0;
  double xx = 0.0;
  for (int64_t i = 0; i < kept; ++i) {
    const double x = std::log(mu[i]);
    const double y = -std::log(1.0 - static_cast<double>(i) / static_cast<double>(n));
    xy += x * y;
    xx += x * x;
  }
  if (xx == 0.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TwoNN: the neighbour distance ratios are degenerate (", n,
                     " distinct points, every second neighbour as close as the first)"));
  }
  return xy / xx;
}

}  // namespace istar::regularizers
