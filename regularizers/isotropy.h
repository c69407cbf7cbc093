// File: regularizers/isotropy.h
// -----------------------------------------------------------------------------
// Isotropy measures and regularizers on point clouds of hidden states (LibTorch).
//
// A point cloud is a tensor `points` of shape [N, d] (float32 or float64) with an optional bool
// tensor `keep` of shape [N]: rows where keep is false (padding tokens) are not part of the cloud.
// Pass an undefined tensor (`{}`) to keep every row.
//
//   - IsoScoreStar: the differentiable IsoScore* of Rudman & Eickhoff (ICLR 2024), with covariance
//     shrinkage towards S0. I-STAR adds lambda * (1 - IsoScoreStar) to the task loss.
//   - CosRegPenalty: the CosReg penalty of Gao et al. (2019), the mean pairwise cosine similarity.
//   - Analysis measures (no gradient): IsoScore (zeta = 0), AverageCosineSimilarity, and
//     TwoNNIntrinsicDimension (Facco et al. 2017).
//   - CovarianceStats / ShrinkageEstimator: the sufficient statistics behind IsoScore*, their exact
//     merge, and the streaming float64 estimate of S0 over many batches.
//
// Every function is computed in closed form: IsoScore* = (PR(S) - 1) / (d - 1) with the
// participation ratio PR(S) = trace(S)^2 / ||S||_F^2, and CosReg from the norm of the sum of unit
// vectors. Neither needs an eigendecomposition nor an N x N matrix. See docs/isotropy.md for the
// derivations and the tests for the published (eigenvalue, pairwise) forms they equal.
//
// Worker groups: statistics that span several ranks are summed through a CrossRankSum, so that
// every rank computes the regularizer of the whole batch. LocalSum() is the one-process case.
//
// Example:
//
//   ShrinkageEstimator s0(/*dims=*/768);
//   for (const at::Tensor& h : eval_batches) ISTAR_RETURN_IF_ERROR(s0.Add(h).status());
//   ISTAR_ASSIGN_OR_RETURN(at::Tensor shrinkage, s0.Finish());
//   ISTAR_ASSIGN_OR_RETURN(at::Tensor iso,
//                          IsoScoreStar(hidden, not_padding, {.zeta = 0.2, .shrinkage = shrinkage}));
//   at::Tensor loss = task_loss + lambda * (1 - iso);
//
// Errors: invalid inputs give InvalidArgument naming the argument and what was expected (a point
// cloud that is not 2-D, d < 2, fewer than 2 kept rows, a mask of the wrong shape or type, NaN or
// infinite values, all points identical). These checks read a few scalars (the point count, the
// trace and Frobenius norm) back from the device: on a GPU, one synchronisation each per call.
//
// Thread safety: the free functions are thread-safe; a ShrinkageEstimator is not (one owner).
#ifndef ISTAR_REGULARIZERS_ISOTROPY_H_
#define ISTAR_REGULARIZERS_ISOTROPY_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace istar::regularizers {

// Sums tensors over the ranks of a worker group. An implementation must be differentiable (the
// backward pass of a sum over ranks is the sum over ranks of the incoming gradients) and must be
// called in the same order on every rank (it is a collective).
class CrossRankSum {
 public:
  virtual ~CrossRankSum() = default;

  // Number of ranks taking part; 1 means the sum is the identity.
  virtual int world_size() const = 0;

  // Returns the element-wise sum of `local` over all ranks (same shape, dtype and device).
  virtual at::Tensor Sum(const at::Tensor& local) const = 0;
};

// The one-process CrossRankSum: world_size() == 1 and Sum returns its argument.
const CrossRankSum& LocalSum();

// Sufficient statistics of a point cloud's covariance: count, sum and centred scatter matrix
// sum_i (x_i - mean)(x_i - mean)^T. Tensors share the dtype and device of the points they came
// from and carry gradients when those points do.
struct CovarianceStats {
  at::Tensor count;    // 0-dim: number of points.
  at::Tensor sum;      // [d]: sum of the points.
  at::Tensor scatter;  // [d, d]: scatter matrix about the points' own mean.
};

// Returns the statistics of the kept rows of `points`. Zero kept rows give count 0, sum 0,
// scatter 0. InvalidArgument for a malformed cloud or mask.
[[nodiscard]] absl::StatusOr<CovarianceStats> ComputeCovarianceStats(
    const at::Tensor& points, const at::Tensor& keep = {});

// Returns the statistics of the union of the point sets behind `a` and `b` (the exact
// parallel-variance merge of Chan, Golub and LeVeque). Either may have count 0.
CovarianceStats MergeCovarianceStats(const CovarianceStats& a, const CovarianceStats& b);

// Returns the statistics of the union over all ranks of each rank's `local` statistics; every rank
// receives the same result. Two collectives: (count, sum), then the scatter matrices shifted to
// the global mean. See Note [Global covariance across ranks] in covariance.cc.
CovarianceStats SumOverRanks(const CovarianceStats& local, const CrossRankSum& ranks);

// Returns the sample covariance scatter / (count - 1). InvalidArgument if count < 2.
[[nodiscard]] absl::StatusOr<at::Tensor> SampleCovariance(const CovarianceStats& stats);

struct IsoScoreStarOptions {
  // Shrinkage weight in [0, 1]: S = (1 - zeta) * cov(points) + zeta * shrinkage. zeta = 0 is plain
  // IsoScore; zeta = 1 ignores the batch (the value is constant and its gradient zero).
  double zeta = 0.0;
  // S0, a [d, d] covariance estimated from a large sample (ShrinkageEstimator). Required when
  // zeta > 0; cast to the points' dtype and device. Treated as a constant (no gradient).
  at::Tensor shrinkage;
  // Sums the statistics over the ranks of a worker group; null means one process.
  const CrossRankSum* ranks = nullptr;
};

// Returns IsoScore* of the kept rows of `points` as a 0-dim tensor in [0, 1] (up to rounding),
// differentiable with respect to `points`. With `options.ranks`, the point cloud is the union of
// every rank's kept rows and every rank receives the same value.
// InvalidArgument: malformed inputs (see the file comment), zeta outside [0, 1], zeta > 0 without
// a shrinkage matrix or with one that is not [d, d].
[[nodiscard]] absl::StatusOr<at::Tensor> IsoScoreStar(const at::Tensor& points,
                                                      const at::Tensor& keep,
                                                      const IsoScoreStarOptions& options = {});

// Returns IsoScore* of the covariance matrix `cov` ([d, d], symmetric positive semi-definite):
// (trace(cov)^2 / ||cov||_F^2 - 1) / (d - 1). Differentiable. InvalidArgument if `cov` is not
// square with d >= 2, is zero, or holds non-finite values.
[[nodiscard]] absl::StatusOr<at::Tensor> IsoScoreOfCovariance(const at::Tensor& cov);

// Returns the CosReg penalty: the sum of cosine similarities over ordered pairs of distinct kept
// rows, divided by N^2 (Gao et al. 2019), as a differentiable 0-dim tensor. Rows are normalised as
// x / max(||x||, 1e-12). With `ranks`, N and the pairs span every rank's rows.
[[nodiscard]] absl::StatusOr<at::Tensor> CosRegPenalty(const at::Tensor& points,
                                                       const at::Tensor& keep,
                                                       const CrossRankSum& ranks = LocalSum());

// Analysis measures: computed without gradient, returned as doubles.

// IsoScore (IsoScore* with zeta = 0) of the kept rows (of every rank's rows, with `ranks`).
[[nodiscard]] absl::StatusOr<double> IsoScore(const at::Tensor& points, const at::Tensor& keep = {},
                                              const CrossRankSum& ranks = LocalSum());

// Mean cosine similarity over pairs of distinct kept rows: sum_{i != j} cos(x_i, x_j) / (N (N-1)),
// computed in float64. With `ranks`, the rows and pairs span every rank.
[[nodiscard]] absl::StatusOr<double> AverageCosineSimilarity(
    const at::Tensor& points, const at::Tensor& keep = {}, const CrossRankSum& ranks = LocalSum());

struct TwoNNOptions {
  // Fraction of the largest distance ratios left out of the fit, in [0, 1). Facco et al. and
  // scikit-dimension use 0.1.
  double discard_fraction = 0.1;
  // Rows of the distance matrix computed at a time: memory is block_rows * N doubles.
  int64_t block_rows = 1024;
};

// The TwoNN intrinsic dimension of the kept rows (Facco, d'Errico, Rodriguez & Laio, 2017): for
// each point, mu = r2 / r1 (distances to its second and first nearest neighbours); the dimension
// is the slope through the origin of -log(1 - F(mu)) against log(mu), F the empirical CDF, fitted
// on the smallest (1 - discard_fraction) share of mu. Points whose nearest neighbour is at
// distance 0 (duplicates) are left out. Cost O(N^2 d) time, computed in float64.
// InvalidArgument: malformed inputs, fewer than 3 distinct points, a bad discard_fraction.
[[nodiscard]] absl::StatusOr<double> TwoNNIntrinsicDimension(const at::Tensor& points,
                                                             const at::Tensor& keep = {},
                                                             const TwoNNOptions& options = {});

// Estimates the shrinkage covariance S0 from a stream of batches, in float64, up to a budget of
// points (the paper: 250,000, re-estimated at the start of every epoch with the model in eval
// mode). Batches are detached: S0 carries no gradient.
class ShrinkageEstimator {
 public:
  // `dims` is d; `point_budget` the number of points after which Add takes no more. The
  // statistics live on `device` (a GPU group's: so that Finish's all-reduce stays there).
  explicit ShrinkageEstimator(int64_t dims, int64_t point_budget = 250'000,
                              at::Device device = at::kCPU);

  // Adds the kept rows of `points` ([N, d]), taking only as many as the budget still allows (the
  // first ones). Returns the number of rows taken. InvalidArgument for a malformed batch or a
  // batch whose d differs from `dims`.
  [[nodiscard]] absl::StatusOr<int64_t> Add(const at::Tensor& points, const at::Tensor& keep = {});

  // True once `point_budget` points have been added.
  bool full() const { return points_ >= point_budget_; }
  // Points added so far on this rank.
  int64_t points() const { return points_; }

  // Returns S0 = the sample covariance of every point added (on every rank, with `ranks`), as a
  // float64 [d, d] tensor on the estimator's device. InvalidArgument if fewer than 2 points were
  // added in all.
  [[nodiscard]] absl::StatusOr<at::Tensor> Finish(const CrossRankSum& ranks = LocalSum()) const;

 private:
  int64_t dims_;
  int64_t point_budget_;
  int64_t points_ = 0;
  CovarianceStats stats_;  // float64, on the estimator's device
};

}  // namespace istar::regularizers

#endif  // ISTAR_REGULARIZERS_ISOTROPY_H_
