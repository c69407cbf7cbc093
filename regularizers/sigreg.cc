// SIGReg, the sketched isotropic Gaussian regularizer of LeJEPA (Balestriero & LeCun 2025): the
// Epps-Pulley statistic of random one-dimensional projections, global over the ranks of a worker
// group.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "regularizers/internal/point_cloud.h"
#include "regularizers/internal/terms.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

// Phases t_k y_im computed at a time, at most: 4M numbers (32 MB in float64) per chunk of rows.
constexpr int64_t kChunkElements = int64_t{1} << 22;

// Note [ECF sums without the N x M x K tensor]
// The empirical characteristic function needs cos(t_k y_im) and sin(t_k y_im) for every row i,
// direction m and knot k. As autograd ops that is an N x M x K tensor of phases (4096 tokens x
// 256 directions x 17 knots = 18M numbers) plus its cosines and sines, all kept for the backward
// pass. Only their sums over the rows are needed, and the backward pass can recompute the phases:
//   d/dy sum_i cos(t_k y_im) = -t_k sin(t_k y_im),   d/dy sum_i sin(t_k y_im) = t_k cos(t_k y_im)
//   (d/dy = d/dy_im),
// so dL/dy_im = sum_k t_k (cos(t_k y_im) G_s[m, k] - sin(t_k y_im) G_c[m, k]) for the incoming
// gradients G_c, G_s of the two sums. Forward and backward each walk the rows in chunks of
// kChunkElements phases: memory O(N M + M K) instead of O(N M K), for one more evaluation of the
// cosines and sines in the backward pass.
class EcfSumsFunction : public torch::autograd::Function<EcfSumsFunction> {
 public:
  // `projected` [N, M]: y_im = <a_m, x_i>; `knots` [K], a constant. Returns [2, M, K]: the sums
  // over rows of cos(t_k y_im) (index 0) and of sin(t_k y_im) (index 1).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& projected,
                            const at::Tensor& knots) {
    ctx->save_for_backward({projected, knots});
    const int64_t m = projected.size(1);
    const int64_t k = knots.size(0);
    at::Tensor sums = at::zeros({2, m, k}, projected.options());
    ForEachChunk(projected, knots, [&](int64_t, const at::Tensor& phases) {
      sums[0].add_(phases.cos().sum(0));
      sums[1].add_(phases.sin().sum(0));
    });
    return sums;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& projected = saved[0];
    const at::Tensor& knots = saved[1];
    const at::Tensor& g = grads[0];
    const at::Tensor cos_weights = g[1] * knots;   // [M, K]: t_k G_s[m, k]
    const at::Tensor sin_weights = -g[0] * knots;  // [M, K]: -t_k G_c[m, k]
    at::Tensor grad = at::empty_like(projected);
    ForEachChunk(projected, knots, [&](int64_t begin, const at::Tensor& phases) {
      grad.narrow(0, begin, phases.size(0))
          .copy_((phases.cos() * cos_weights + phases.sin() * sin_weights).sum(2));
    });
    return {grad, at::Tensor()};
  }

 private:
  // Calls visit(first_row, phases) with phases [rows, M, K] = t_k y_im for consecutive chunks.
  template <typename Visit>
  static void ForEachChunk(const at::Tensor& projected, const at::Tensor& knots, Visit visit) {
    const int64_t n = projected.size(0);
    const int64_t per_row = std::max<int64_t>(1, projected.size(1) * knots.size(0));
    const int64_t chunk = std::max<int64_t>(1, kChunkElements / per_row);
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const int64_t rows = std::min(chunk, n - begin);
      visit(begin, projected.narrow(0, begin, rows).unsqueeze(2) * knots);
    }
  }
};

absl::Status CheckOptions(const SigRegOptions& options) {
  if (options.projections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("SIGReg: options.projections must be >= 1, got ", options.projections));
  }
  if (options.knots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("SIGReg: options.knots must be >= 2, got ", options.knots));
  }
  if (!(std::isfinite(options.t_max) && options.t_max > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SIGReg: options.t_max must be finite and > 0, got ", options.t_max));
  }
  return absl::OkStatus();
}

}  // namespace

at::Tensor SigRegDirections(int64_t dims, const SigRegOptions& options) {
  ISTAR_CHECK(dims >= 1 && options.projections >= 1)
      << "SigRegDirections: dims = " << dims << ", projections = " << options.projections;
  // Note [SIGReg's directions]
  // LeJEPA draws the directions afresh at every step from a generator seeded by the step, so that
  // every rank draws the same ones without communicating; options.seed is that seed. They are
  // drawn on the CPU in float64 whatever the points' device and dtype: the same numbers on every
  // rank and on every kind of device (a CUDA generator's stream differs from the CPU's), and the
  // tests can draw them too. d x M numbers per call, negligible next to the projections.
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  const at::Tensor normal =
      at::randn({dims, options.projections}, generator, at::TensorOptions().dtype(at::kDouble));
  return normal / normal.norm(2, {0}, /*keepdim=*/true);
}

absl::StatusOr<at::Tensor> SigRegStatistic(const at::Tensor& points, const at::Tensor& keep,
                                           const SigRegOptions& options,
                                           const CrossRankSum& ranks) {
  ISTAR_RETURN_IF_ERROR(CheckOptions(options));
  ISTAR_ASSIGN_OR_RETURN(const at::Tensor rows, internal::KeptRows(points, keep, "SIGReg"));
  const auto tensor_options = rows.options();
  const int64_t m = options.projections;
  const int64_t k = options.knots;

  // The knots t_k = -t_max + k h, h = 2 t_max / (K - 1), and the trapezoid rule's weights times
  // the paper's weight function exp(-t^2/2): h at the inner knots, h / 2 at the two ends.
  const double h = 2.0 * options.t_max / static_cast<double>(k - 1);
  std::vector<double> knot_values(k);
  std::vector<double> target_values(k);
  std::vector<double> weight_values(k);
  for (int64_t i = 0; i < k; ++i) {
    const double t = -options.t_max + static_cast<double>(i) * h;
    knot_values[i] = t;
    target_values[i] = std::exp(-0.5 * t * t);
    weight_values[i] = (i == 0 || i == k - 1 ? 0.5 * h : h) * target_values[i];
  }
  const auto host = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor knots = at::tensor(knot_values, host).to(tensor_options);
  const at::Tensor target = at::tensor(target_values, host).to(tensor_options);
  const at::Tensor weights = at::tensor(weight_values, host).to(tensor_options);

  const at::Tensor directions = SigRegDirections(rows.size(1), options).to(tensor_options);
  const at::Tensor sums = EcfSumsFunction::apply(rows.mm(directions), knots);  // [2, M, K]
  // Note [SIGReg across ranks]
  // phi_N(t) is a mean over all N rows of every rank, and T_m is non-linear in it, so the ranks
  // sum what the mean is made of: the row count and the sums of cos and sin (1 + 2 M K numbers,
  // one differentiable all-reduce), and each then computes the statistic of the whole batch.
  // LeJEPA's Algorithm 1 instead averages the ranks' own means and multiplies by the local batch
  // size times the world size: the same value when every rank holds as many rows, not otherwise
  // (the last batch of an epoch, or a mask that keeps different numbers of tokens per rank).
  const at::Tensor local =
      at::cat({at::scalar_tensor(static_cast<double>(rows.size(0)), tensor_options).reshape({1}),
               sums.flatten()});
  const at::Tensor totals = ranks.world_size() == 1 ? local : ranks.Sum(local);
  const at::Tensor count = totals[0];
  const double n = count.item<double>();
  if (n < 2.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("SIGReg: needs at least 2 points (over every rank), got ", n));
  }
  const at::Tensor cos_mean = totals.slice(0, 1, 1 + m * k).view({m, k}) / count;
  const at::Tensor sin_mean = totals.slice(0, 1 + m * k).view({m, k}) / count;
  const at::Tensor real_error = cos_mean - target;
  const at::Tensor error = real_error * real_error + sin_mean * sin_mean;  // |phi_N - phi|^2
  const at::Tensor statistics = count * error.mv(weights);                 // [M]: T_m
  const at::Tensor value = statistics.mean();
  ISTAR_RETURN_IF_ERROR(internal::CheckFinite(value, "SIGReg"));
  return value;
}

namespace internal {
namespace {

// SIGReg of every point, with new directions each step (StepContext::draw_seed).
class SigRegTerm final : public Regularizer {
 public:
  absl::StatusOr<at::Tensor> Term(const PointCloud& cloud, const StepContext& step) const override {
    return SigRegStatistic(cloud.points, {}, {.seed = step.draw_seed}, *step.ranks);
  }
};

}  // namespace

std::unique_ptr<const Regularizer> MakeSigReg(const ParameterValues&) {
  return std::make_unique<SigRegTerm>();
}

}  // namespace internal

}  // namespace istar::regularizers
