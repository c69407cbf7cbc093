// File: regularizers/measure.h
// -----------------------------------------------------------------------------
// The LibTorch-free entry to the isotropy measures, for code that must not include LibTorch (the
// command line; docs/architecture.md, "Rules"): a point cloud as a plain float64 matrix in,
// numbers out. It runs the same functions as regularizers/isotropy.h, in float64, and catches
// LibTorch's exceptions here.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(arrays::Matrix points, arrays::ReadMatrix("hidden.npy"));
//   ISTAR_ASSIGN_OR_RETURN(IsotropyReport report,
//                          MeasureIsotropy(points, {.average_cosine = true}));
//   std::cout << report.isoscore_star << " " << *report.average_cosine << "\n";
//
// Thread safety: MeasureIsotropy is thread-safe.
#ifndef ISTAR_REGULARIZERS_MEASURE_H_
#define ISTAR_REGULARIZERS_MEASURE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "arrays/array_file.h"

namespace istar::regularizers {

struct MeasureOptions {
  // Shrinkage weight for IsoScore*, in [0, 1]; > 0 needs `shrinkage`.
  double zeta = 0.0;
  // S0, a d x d covariance matrix; not owned, must outlive the call. Null for none.
  const arrays::Matrix* shrinkage = nullptr;
  bool isoscore = false;        // also compute IsoScore (zeta = 0)
  bool average_cosine = false;  // also compute the mean pairwise cosine similarity
  bool twonn = false;           // also compute the TwoNN intrinsic dimension: O(N^2 d) time
};

struct IsotropyReport {
  int64_t points = 0;  // N, the number of rows measured
  int64_t dims = 0;    // d
  double isoscore_star = 0.0;
  std::optional<double> isoscore;        // set when MeasureOptions::isoscore
  std::optional<double> average_cosine;  // set when MeasureOptions::average_cosine
  std::optional<double> twonn;           // set when MeasureOptions::twonn
};

// Measures the rows of `points` (N points in d dimensions). Returns InvalidArgument for the same
// inputs as regularizers/isotropy.h (N < 2, d < 2, NaN or infinite values, a shrinkage matrix
// that is not d x d, zeta outside [0, 1]) and Internal if LibTorch fails unexpectedly.
[[nodiscard]] absl::StatusOr<IsotropyReport> MeasureIsotropy(const arrays::Matrix& points,
                                                             const MeasureOptions& options);

}  // namespace istar::regularizers

#endif  // ISTAR_REGULARIZERS_MEASURE_H_
