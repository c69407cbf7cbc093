// Helpers shared by the regularizer tests: seeded random tensors with chosen spectra.
#ifndef ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_
#define ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace istar::testing {

inline at::TensorOptions Float64() { return at::TensorOptions().dtype(at::kDouble); }

// A random d x d orthogonal matrix (QR of a Gaussian matrix).
inline at::Tensor RandomRotation(int64_t d, at::Generator& gen) {
  return std::get<0>(at::linalg_qr(at::randn({d, d}, gen, Float64())));
}

// Q diag(eigenvalues) Q^T for a random rotation Q.
inline at::Tensor CovarianceWithSpectrum(const at::Tensor& eigenvalues, at::Generator& gen) {
  const at::Tensor q = RandomRotation(eigenvalues.size(0), gen);
  return q.mm(at::diag(eigenvalues)).mm(q.t());
}

// N points from N(mean, cov) (cov positive semi-definite), via its symmetric square root.
inline at::Tensor GaussianPoints(int64_t n, const at::Tensor& cov, double mean,
                                 at::Generator& gen) {
  auto [values, vectors] = at::linalg_eigh(cov);
  const at::Tensor root = vectors.mm(at::diag(values.clamp_min(0).sqrt())).mm(vectors.t());
  return at::randn({n, cov.size(0)}, gen, Float64()).mm(root) + mean;
}

inline at::Generator SeededGenerator(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

// Checks autograd's gradient of `f` (a 0-dim float64 tensor of a float64 tensor) at `x` against
// central differences (f(x + h e) - f(x - h e)) / 2h at `samples` entries of x drawn by `gen`:
// each within `tolerance` of the larger of the entry's own size and 1% of the gradient's largest
// entry (so that an entry that should be 0 must be 0 to that scale).
inline void ExpectGradientMatchesFiniteDifferences(
    const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x, int samples,
    at::Generator& gen, double step = 1e-5, double tolerance = 1e-6) {
  const at::Tensor leaf = x.detach().clone().requires_grad_();
  f(leaf).backward();
  ASSERT_TRUE(leaf.grad().defined()) << "no gradient reached the points";
  const at::Tensor grad = leaf.grad().flatten();
  const double scale = grad.abs().max().item<double>();
  ASSERT_GT(scale, 0.0) << "the gradient is identically zero";
  const at::Tensor picks = at::randint(x.numel(), {samples}, gen, at::kLong);
  for (int s = 0; s < samples; ++s) {
    const int64_t index = picks[s].item<int64_t>();
    at::Tensor plus = x.detach().clone();
    at::Tensor minus = x.detach().clone();
    plus.view({-1})[index] += step;
    minus.view({-1})[index] -= step;
    const double numeric = (f(plus).item<double>() - f(minus).item<double>()) / (2.0 * step);
    const double analytic = grad[index].item<double>();
    EXPECT_NEAR(numeric, analytic, tolerance * std::max(std::abs(analytic), 0.01 * scale))
        << "entry " << index;
  }
}

}  // namespace istar::testing

#endif  // ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_
