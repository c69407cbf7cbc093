// File: tests/reference/scikit_dimension.h
// -----------------------------------------------------------------------------
// The TwoNN intrinsic dimension (Facco et al., 2017) as scikit-dimension's skdim.id.TwoNN fits
// it, written step by step with plain loops in double from its description: the reference that
// regularizers::TwoNNIntrinsicDimension and the trainer's final `cls_twonn` are tested against.
// Kept out of the library.
#ifndef ISTAR_TESTS_REFERENCE_SCIKIT_DIMENSION_H_
#define ISTAR_TESTS_REFERENCE_SCIKIT_DIMENSION_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace istar::reference {

// All pairwise distances of `points` (N rows of equal length, no duplicated rows), each point's
// two nearest neighbours at r1 <= r2, mu = r2 / r1 sorted ascending; the first
// floor(N (1 - discard)) of them kept (Python's int()); F_emp(i) = i / N for i = 0..kept-1; the
// least-squares slope through the origin of -log(1 - F_emp) on log(mu).
inline double ScikitDimensionTwoNN(const std::vector<std::vector<double>>& points,
                                   double discard = 0.1) {
  const size_t n = points.size();
  std::vector<double> mu;
  for (size_t i = 0; i < n; ++i) {
    double r1 = std::numeric_limits<double>::infinity();
    double r2 = r1;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double sq = 0;
      for (size_t k = 0; k < points[i].size(); ++k) {
        sq += (points[i][k] - points[j][k]) * (points[i][k] - points[j][k]);
      }
      const double r = std::sqrt(sq);
      if (r < r1) {
        r2 = r1;
        r1 = r;
      } else if (r < r2) {
        r2 = r;
      }
    }
    mu.push_back(r2 / r1);
  }
  std::sort(mu.begin(), mu.end());
  const auto kept = static_cast<size_t>(static_cast<double>(n) * (1.0 - discard));
  double xy = 0;
  double xx = 0;
  for (size_t i = 0; i < kept; ++i) {
    const double lx = std::log(mu[i]);
    xy += lx * -std::log(1.0 - static_cast<double>(i) / static_cast<double>(n));
    xx += lx * lx;
  }
  return xy / xx;
}

}  // namespace istar::reference

#endif  // ISTAR_TESTS_REFERENCE_SCIKIT_DIMENSION_H_
