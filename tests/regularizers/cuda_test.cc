// The regularizers on CUDA tensors (issue 8; docs/building.md, "The GPU build"): IsoScore* and
// CosReg in float32 on the GPU against the float64 CPU closed forms and the published forms
// (tests/reference), values and gradients; the regularizers from the literature against
// themselves in float64 on the CPU. Skipped, saying so, where LibTorch sees no CUDA device
// (every CI machine; the GPU build of deploy/gpu/ runs them).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "regularizers/isotropy.h"
#include "tests/reference/published_forms.h"

namespace istar::regularizers {
namespace {

constexpr int64_t kPoints = 8192;
constexpr int64_t kDims = 96;

// Anisotropic points with an outlier dimension carrying a large mean, as BERT's hidden states.
at::Tensor HiddenLikePoints() {
  at::manual_seed(7);
  at::Tensor points = at::randn({kPoints, kDims}, at::kDouble) * at::linspace(0.1, 3.0, kDims,
                                                                              at::kDouble);
  points.select(1, 5) += 25.0;
  return points;
}

// The value and the gradient with respect to the points of `loss(points)`, with `points` moved
// to `device` and `dtype` first; both returned as CPU float64.
template <typename Loss>
std::pair<double, at::Tensor> ValueAndGradient(const at::Tensor& points, at::Device device,
                                               at::ScalarType dtype, Loss loss) {
  at::Tensor x = points.to(device, dtype).detach().requires_grad_();
  at::Tensor value = loss(x);
  value.backward();
  return {value.item<double>(), x.grad().to(at::kCPU, at::kDouble)};
}

double RelativeError(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).norm().item<double>() / want.norm().item<double>();
}

class RegularizersOnCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device visible to LibTorch (a CPU build, or no GPU)";
    }
  }
  const at::Device cuda_{at::kCUDA, 0};
  const at::Device cpu_{at::kCPU};
};

TEST_F(RegularizersOnCuda, IsoScoreStarInFloat32MatchesFloat64OnTheCpuAndThePublishedForm) {
  const at::Tensor points = HiddenLikePoints();
  at::manual_seed(8);
  const at::Tensor s0 = at::cov(at::randn({4 * kDims, kDims}, at::kDouble).t());
  auto closed = [&](const at::Tensor& x) {
    return *IsoScoreStar(x, {}, {.zeta = 0.2, .shrinkage = s0.to(x.device(), x.scalar_type())});
  };
  const auto [gpu_value, gpu_grad] = ValueAndGradient(points, cuda_, at::kFloat, closed);
  const auto [cpu_value, cpu_grad] = ValueAndGradient(points, cpu_, at::kDouble, closed);
  const auto [published_value, published_grad] =
      ValueAndGradient(points, cpu_, at::kDouble, [&](const at::Tensor& x) {
        return reference::PublishedIsoScoreStar(x, s0, 0.2);
      });
  EXPECT_NEAR(cpu_value, published_value, 1e-12);
  EXPECT_NEAR(gpu_value, cpu_value, 1e-4 * cpu_value);
  EXPECT_LT(RelativeError(cpu_grad, published_grad), 1e-8);
  EXPECT_LT(RelativeError(gpu_grad, cpu_grad), 1e-3);
}

TEST_F(RegularizersOnCuda, CosRegInFloat32MatchesFloat64OnTheCpuAndThePairwiseForm) {
  const at::Tensor points = HiddenLikePoints().slice(0, 0, 2048);
  auto closed = [](const at::Tensor& x) { return *CosRegPenalty(x, {}); };
  const auto [gpu_value, gpu_grad] = ValueAndGradient(points, cuda_, at::kFloat, closed);
  const auto [cpu_value, cpu_grad] = ValueAndGradient(points, cpu_, at::kDouble, closed);
  const auto [pairwise_value, pairwise_grad] =
      ValueAndGradient(points, cpu_, at::kDouble, reference::PairwiseCosReg);
  EXPECT_NEAR(cpu_value, pairwise_value, 1e-12);
  EXPECT_NEAR(gpu_value, cpu_value, 1e-5);
  EXPECT_LT(RelativeError(cpu_grad, pairwise_grad), 1e-8);
  EXPECT_LT(RelativeError(gpu_grad, cpu_grad), 1e-3);
}

TEST_F(RegularizersOnCuda, LiteratureRegularizersInFloat32MatchFloat64OnTheCpu) {
  // VICReg, uniformity, dispersion and SIGReg: each in float32 on the GPU against itself in
  // float64 on the CPU (their own tests check the float64 values against the published forms).
  const at::Tensor points = HiddenLikePoints().slice(0, 0, 2048);
  const at::Tensor group = at::arange(2048, at::kLong).floor_divide(64);  // 32 sequences
  at::manual_seed(9);
  const at::Tensor keep = at::rand({2048}, at::kDouble) > 0.1;
  const std::vector<std::pair<const char*, std::function<at::Tensor(const at::Tensor&)>>> losses = {
      {"VICReg", [&](const at::Tensor& x) { return *VicRegPenalty(x, keep.to(x.device())); }},
      {"uniformity", [](const at::Tensor& x) { return *UniformityLoss(x.slice(0, 0, 256), 2.0); }},
      {"dispersion",
       [&](const at::Tensor& x) { return *DispersionPenalty(x, group.to(x.device()), 32); }},
      {"SIGReg", [&](const at::Tensor& x) {
         return *SigRegStatistic(x * 0.3, keep.to(x.device()), {.seed = 3});
       }}};
  for (const auto& [name, loss] : losses) {
    const auto [gpu_value, gpu_grad] = ValueAndGradient(points, cuda_, at::kFloat, loss);
    const auto [cpu_value, cpu_grad] = ValueAndGradient(points, cpu_, at::kDouble, loss);
    EXPECT_NEAR(gpu_value, cpu_value, 1e-4 * std::max(1.0, std::abs(cpu_value))) << name;
    EXPECT_LT(RelativeError(gpu_grad, cpu_grad), 1e-3) << name;
  }
}

}  // namespace
}  // namespace istar::regularizers
