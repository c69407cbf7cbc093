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
//   - Regularizers from the literature, to compare I-STAR against: VicRegPenalty (VICReg's
//     variance and covariance terms), UniformityLoss (Wang & Isola) on sentence vectors made by
//     PoolSentences, DispersionPenalty (the mean pairwise cosine within each sequence) and
//     SigRegStatistic (LeJEPA's SIGReg).
//
// IsoScore* and CosReg are computed in closed form: IsoScore* = (PR(S) - 1) / (d - 1) with the
// participation ratio PR(S) = trace(S)^2 / ||S||_F^2, and CosReg (and the dispersion penalty) from
// the norm of a sum of unit vectors. Neither needs an eigendecomposition nor an N x N matrix. See
// docs/isotropy.md for the derivations and the tests for the published (eigenvalue, pairwise)
// forms they equal.
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
//                          IsoScoreStar(hidden, not_padding, {.zeta = 0.2, .shrinkage =
//                          shrinkage}));
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

  // This process's rank in [0, world_size()): where a function that gathers rows through Sum
  // (UniformityLoss) places this rank's rows.
  virtual int rank() const = 0;

  // Returns the element-wise sum of `local` over all ranks (same shape, dtype and device).
  virtual at::Tensor Sum(const at::Tensor& local) const = 0;
};

// The one-process CrossRankSum: world_size() == 1, rank() == 0 and Sum returns its argument.
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

// -----------------------------------------------------------------------------
// Regularizers from the literature
//
// Each returns a differentiable 0-dim tensor of the points' dtype (computed in that dtype), the
// same on every rank of `ranks`, computed on the union of every rank's rows exactly as one process
// holding all of them would (docs/isotropy.md, "Regularizers from the literature", says what each
// sums over the ranks). Like IsoScore*, the counts and the value are checked after the sums over
// ranks, so every rank returns the same error and none is left waiting in a collective; malformed
// arguments (shapes, dtypes, options) are checked first, on each rank alone.
// InvalidArgument, naming the function and the argument: points that are not a 2-D float32 or
// float64 tensor, d < 2, too few rows in all, a malformed mask or id tensor, NaN or infinite
// values, bad options.

struct VicRegOptions {
  // gamma: the target standard deviation of every dimension (the paper fixes it to 1); >= 0.
  double gamma = 1.0;
  // epsilon: added to the variance under the square root (the paper: 1e-4), so that the gradient
  // stays finite where a dimension's variance is 0; > 0.
  double epsilon = 1e-4;
};

// VICReg's variance and covariance terms (Bardes, Ponce & LeCun, ICLR 2022, eqs. 1-4), summed with
// equal weight, on the kept rows of `points` ([N, d]; `keep` a bool [N] or undefined):
//   v(Z) = (1/d) sum_j max(0, gamma - sqrt(C_jj + epsilon)),
//   c(Z) = (1/d) sum_{i != j} C_ij^2,     value = v(Z) + c(Z),
// C the unbiased (N - 1) sample covariance of the kept rows of every rank (ComputeCovarianceStats
// and SumOverRanks: exact across ranks). Cost O(N d^2). VICReg weights the two terms (mu = 25,
// nu = 1 in the paper); weigh them apart by calling twice or scale the sum in the loss.
// InvalidArgument: malformed inputs, fewer than 2 kept rows in all, gamma < 0 or not finite,
// epsilon <= 0 or not finite.
[[nodiscard]] absl::StatusOr<at::Tensor> VicRegPenalty(const at::Tensor& points,
                                                       const at::Tensor& keep,
                                                       const VicRegOptions& options = {},
                                                       const CrossRankSum& ranks = LocalSum());

// The uniformity loss of Wang & Isola (ICML 2020) on sentence vectors `vectors` ([S, d]):
//   log( (1/P) sum_{i<j} exp(-t ||u_i - u_j||^2) ),   u_i = x_i / max(||x_i||, 1e-12),
// over the P = S (S - 1) / 2 pairs of distinct rows of all ranks (the rows are gathered over the
// ranks through `ranks.Sum`: each rank's rows, at its offset in a zero-padded [S_total, d]
// tensor, summed; Note [Gathering rows through a sum] in uniformity.cc). Every rank then holds all
// rows and computes the same value; the gather's backward returns each rank's rows their
// gradient. Cost O(S^2 d) time and O(S^2) memory, on every rank: meant for sentence vectors
// (S = the batch's sentences), not for tokens. The value lies in [-4t, 0] for unit vectors.
// InvalidArgument: malformed `vectors`, fewer than 2 rows in all, t <= 0 or not finite, NaN or
// infinite values.
[[nodiscard]] absl::StatusOr<at::Tensor> UniformityLoss(const at::Tensor& vectors, double t = 2.0,
                                                        const CrossRankSum& ranks = LocalSum());

enum class Pooling {
  kMean,        // the mean of the real tokens' hidden states
  kFirstToken,  // the hidden state at position 0 ([CLS] for BERT-like models)
};

// Sentence vectors of a batch: `hidden` [B, T, H] (float32 or float64), `attention_mask` [B, T]
// (any dtype; non-zero = a real token) -> [B, H] in hidden's dtype, differentiable with respect to
// `hidden`. kMean divides by the number of real tokens (a row with none gives the zero vector);
// kFirstToken ignores the mask. Tensor-level: malformed shapes throw c10::Error (TORCH_CHECK).
at::Tensor PoolSentences(const at::Tensor& hidden, const at::Tensor& attention_mask,
                         Pooling pooling);

// The average pairwise cosine among the rows of each sequence, averaged over sequences:
//   (1/G) sum_g [ ||sum_{i in g} u_i||^2 - sum_{i in g} ||u_i||^2 ] / (n_g (n_g - 1)),
// u_i = x_i / max(||x_i||, 1e-12) (so ||u_i||^2 = 1 but for zero rows: Note [Self terms of a
// unit-vector sum] in dispersion.cc), which is (1/G) sum_g of the mean cosine over the
// n_g (n_g - 1) ordered pairs of distinct rows of sequence g. `points` [N, d]; `group` [N] int64,
// on the points' device, gives each row's sequence in [0, groups) on this rank (sequences do not
// span ranks); groups with fewer than 2 rows are left out, and G counts the remaining groups of
// every rank. Across ranks, the sum of the group terms and G are summed (2 numbers). Exact, O(N d)
// time and O(groups d) extra memory, by the unit-vector-sum identity CosReg uses.
// InvalidArgument: malformed `points`, `group` not int64 [N] on the points' device, ids outside
// [0, groups), groups < 0, no group of 2 or more rows on any rank, NaN or infinite values.
[[nodiscard]] absl::StatusOr<at::Tensor> DispersionPenalty(const at::Tensor& points,
                                                           const at::Tensor& group, int64_t groups,
                                                           const CrossRankSum& ranks = LocalSum());

struct SigRegOptions {
  int64_t projections = 256;  // M, the number of random directions (the paper: 256 slices); >= 1
  int64_t knots = 17;         // K, quadrature points on [-t_max, t_max] (the paper: 17); >= 2
  double t_max = 5.0;         // the integration range [-t_max, t_max] (the paper: 5); > 0
  uint64_t seed = 0;          // seeds the directions; the same on every rank (the paper: the step)
};

// The M = options.projections random unit directions of SIGReg, as a float64 CPU tensor
// [dims, M] whose column m is a_m: standard normal entries drawn from a CPU generator seeded by
// options.seed (the same on every machine and rank), each column divided by its norm. dims >= 1
// and M >= 1 (ISTAR_CHECK).
at::Tensor SigRegDirections(int64_t dims, const SigRegOptions& options);

// SIGReg, the sketched isotropic Gaussian regularizer of LeJEPA (Balestriero & LeCun 2025,
// arXiv:2511.08544, Algorithm 1), on the kept rows of `points` ([N, d]; `keep` bool [N] or
// undefined). For each direction a_m of SigRegDirections(d, options) (moved to the points'
// device and dtype), the Epps-Pulley statistic of the projections y_i = <a_m, x_i> against
// N(0, 1):
//   T_m = N * integral_{-t_max}^{t_max} |phi_N(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt,
//   phi_N(t) = (1/N) sum_i exp(i t y_i)   (over the N kept rows of all ranks),
// the integral by the trapezoid rule on `knots` equally spaced points; the value is the mean of
// T_m over the M directions. Across ranks, N and the sums of cos(t_k y_i) and sin(t_k y_i) are
// summed (1 + 2 M K numbers, one collective): exact for any split of the rows. Cost O(N d M) for
// the projections and O(N M K) for the characteristic function, in O(N M + M K) memory (Note [ECF
// sums without the N x M x K tensor] in sigreg.cc). The points are not standardized: SIGReg pulls
// them towards N(0, I) itself.
// InvalidArgument: malformed inputs, fewer than 2 kept rows in all, projections < 1, knots < 2,
// t_max <= 0 or not finite, NaN or infinite values.
[[nodiscard]] absl::StatusOr<at::Tensor> SigRegStatistic(const at::Tensor& points,
                                                         const at::Tensor& keep,
                                                         const SigRegOptions& options = {},
                                                         const CrossRankSum& ranks = LocalSum());

}  // namespace istar::regularizers

#endif  // ISTAR_REGULARIZERS_ISOTROPY_H_
