// Helpers shared by the regularizer tests: seeded random tensors with chosen spectra.
#ifndef ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_
#define ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

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

}  // namespace istar::testing

#endif  // ISTAR_TESTS_REGULARIZERS_TEST_UTIL_H_
