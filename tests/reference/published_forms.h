// File: tests/reference/published_forms.h
// -----------------------------------------------------------------------------
// The regularizers as the I-STAR paper's code and Gao et al. compute them, written from the
// published descriptions: IsoScore* from the singular values of the shrunk covariance, CosReg
// from the N x N matrix of cosine similarities. They are the references that the closed forms of
// regularizers/isotropy.h are tested and benchmarked against, and are kept out of the library.
#ifndef ISTAR_TESTS_REFERENCE_PUBLISHED_FORMS_H_
#define ISTAR_TESTS_REFERENCE_PUBLISHED_FORMS_H_

#include <cmath>

#include <ATen/ATen.h>

namespace istar::reference {

// IsoScore* of a covariance matrix through its eigenvalues (as singular values, as published):
// scale them to norm sqrt(n), measure the distance to the all-ones vector (the isotropy defect),
// normalise it by its maximum sqrt(2 (n - sqrt(n))), turn it into the fraction k of dimensions
// used, and rescale n k from [1, n] to [0, 1].
inline at::Tensor PublishedIsoScoreOfCovariance(const at::Tensor& cov) {
  const at::Tensor eigenvalues = at::linalg_svdvals(cov);
  const double n = static_cast<double>(eigenvalues.size(0));
  const at::Tensor normalised = eigenvalues * std::sqrt(n) / eigenvalues.norm();
  const at::Tensor defect =
      (normalised - at::ones_like(normalised)).norm() / std::sqrt(2.0 * (n - std::sqrt(n)));
  const at::Tensor k = (n - defect.pow(2) * (n - std::sqrt(n))).pow(2) / (n * n);
  return (n * k - 1.0) / (n - 1.0);
}

// IsoScore* of points [N, d] with shrinkage: torch.cov of the points, mixed with S0.
inline at::Tensor PublishedIsoScoreStar(const at::Tensor& points, const at::Tensor& shrinkage,
                                        double zeta) {
  at::Tensor cov = at::cov(points.t());
  if (zeta > 0.0) cov = (1.0 - zeta) * cov + zeta * shrinkage;
  return PublishedIsoScoreOfCovariance(cov);
}

// The N x N cosine-similarity matrix of the rows of `points`.
inline at::Tensor CosineMatrix(const at::Tensor& points) {
  const at::Tensor unit = points / points.norm(2, 1, true).clamp_min(1e-12);
  return unit.mm(unit.t());
}

// CosReg as published: the off-diagonal entries of the cosine matrix summed, divided by N^2.
inline at::Tensor PairwiseCosReg(const at::Tensor& points) {
  const at::Tensor c = CosineMatrix(points);
  const double n = static_cast<double>(points.size(0));
  return (c.sum() - c.diagonal().sum()) / (n * n);
}

// Mean cosine similarity over the N (N - 1) ordered pairs of distinct rows.
inline double PairwiseAverageCosine(const at::Tensor& points) {
  const at::Tensor c = CosineMatrix(points);
  const double n = static_cast<double>(points.size(0));
  return ((c.sum() - c.diagonal().sum()) / (n * (n - 1.0))).item<double>();
}

}  // namespace istar::reference

#endif  // ISTAR_TESTS_REFERENCE_PUBLISHED_FORMS_H_
