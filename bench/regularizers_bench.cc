// Forward + backward time of the regularizers in closed form against their published forms
// (tests/reference/published_forms.h), on the sizes of BERT-base fine-tuning:
//   IsoScore*: N = 53,248 points (13 layers x 32 sequences x 128 tokens), d = 768;
//   CosReg:    N = 8,192 points, d = 768.
// BM_Term/<name> times every regularizer of the catalogue on the first cloud, through
// MakeRegularizer, as the trainer calls it.
// BM_CovarianceProduct times the product X^T X alone: the floor for any exact IsoScore*.
// BM_IsoScoreStarAutogradMatmul is the closed form with autograd's own matmul backward, to
// measure Note [Scatter matrix with a one-product backward].
//
// ISTAR_BENCH_DEVICE=cuda runs every benchmark on the GPU (deploy/gpu/run.sh): the tensors live
// there, and each iteration ends by reading one gradient element back, which waits for the
// stream, so the time is the GPU's and not the kernel launches'.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "regularizers/isotropy.h"
#include "regularizers/regularizer.h"
#include "tests/reference/published_forms.h"

namespace istar {
namespace {

constexpr int64_t kIsoPoints = 53'248;
constexpr int64_t kCosPoints = 8'192;
constexpr int64_t kDims = 768;

at::Device BenchDevice() {
  const char* device = std::getenv("ISTAR_BENCH_DEVICE");
  return at::Device(device == nullptr ? std::string("cpu") : std::string(device));
}

// Hidden-state-like points: anisotropic, with a few outlier dimensions carrying a large mean.
at::Tensor Points(int64_t n) {
  at::manual_seed(0);
  at::Tensor scale = at::linspace(0.1, 2.0, kDims);
  at::Tensor points = at::randn({n, kDims}) * scale;
  points.select(1, 3) += 20.0;
  return points.to(BenchDevice());
}

at::Tensor Shrinkage() {
  at::manual_seed(1);
  const at::Tensor x = at::randn({4 * kDims, kDims});
  return at::cov(x.t()).to(BenchDevice());
}

void BM_CovarianceProduct(benchmark::State& state) {
  const at::Tensor x = Points(kIsoPoints);
  for (auto _ : state) benchmark::DoNotOptimize(x.t().mm(x)[0][0].item<double>());
}

// Times `loss(points)` followed by its backward pass into `points`.
template <typename Loss>
void TimeForwardBackward(benchmark::State& state, at::Tensor points, Loss loss) {
  points.requires_grad_();
  for (auto _ : state) {
    loss(points).backward();
    benchmark::DoNotOptimize(points.grad()[0][0].item<double>());  // waits for a GPU's stream
    points.mutable_grad().reset();
  }
}

void BM_IsoScoreStarClosedForm(benchmark::State& state) {
  const at::Tensor s0 = Shrinkage();
  TimeForwardBackward(state, Points(kIsoPoints), [&](const at::Tensor& points) {
    return *regularizers::IsoScoreStar(points, {}, {.zeta = 0.2, .shrinkage = s0});
  });
}

void BM_IsoScoreStarAutogradMatmul(benchmark::State& state) {
  const at::Tensor s0 = Shrinkage();
  TimeForwardBackward(state, Points(kIsoPoints), [&](const at::Tensor& points) {
    const at::Tensor centred = points - points.mean(0);
    const at::Tensor cov = centred.t().mm(centred) / (kIsoPoints - 1.0);
    return *regularizers::IsoScoreOfCovariance(0.8 * cov + 0.2 * s0);
  });
}

void BM_IsoScoreStarPublished(benchmark::State& state) {
  const at::Tensor s0 = Shrinkage();
  TimeForwardBackward(state, Points(kIsoPoints), [&](const at::Tensor& points) {
    return reference::PublishedIsoScoreStar(points, s0, 0.2);
  });
}

void BM_CosRegClosedForm(benchmark::State& state) {
  TimeForwardBackward(state, Points(kCosPoints), [](const at::Tensor& points) {
    return *regularizers::CosRegPenalty(points, {});
  });
}

void BM_CosRegPairwise(benchmark::State& state) {
  TimeForwardBackward(state, Points(kCosPoints), reference::PairwiseCosReg);
}

// Every catalogue term through the trainer's interface (regularizers/regularizer.h), forward and
// backward, on the point cloud of one BERT-base step at the paper's defaults: 13 layers x 32
// sequences x 128 tokens (N = 53,248), d = 768, each token's sequence known. The terms read every
// layer here, for one comparison on one cloud (uniformity and SIGReg read the last layer alone
// by default: a 13th of these rows).
void BM_Term(benchmark::State& state, const char* name) {
  constexpr int64_t kSequences = 32;
  constexpr int64_t kTokens = 128;
  std::vector<int64_t> layers(13);
  for (int64_t k = 0; k < 13; ++k) layers[static_cast<size_t>(k)] = k + 1;
  regularizers::PointCloud cloud{
      .tokens = kSequences * kTokens,
      .layers = layers,
      .sequence =
          at::floor_divide(at::arange(kSequences * kTokens, at::kLong), kTokens).to(BenchDevice()),
      .sequences = kSequences};
  const regularizers::ParameterValues values = std::string(name) == "istar"
                                                   ? regularizers::ParameterValues{{"zeta", 0.2}}
                                                   : regularizers::ParameterValues{};
  const std::unique_ptr<const regularizers::Regularizer> term =
      *regularizers::MakeRegularizer(name, values);
  const at::Tensor s0 = Shrinkage();
  TimeForwardBackward(state, Points(kIsoPoints), [&](const at::Tensor& points) {
    cloud.points = points;
    return *term->Term(cloud, {.shrinkage = s0, .draw_seed = 1});
  });
}

BENCHMARK(BM_CovarianceProduct)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IsoScoreStarClosedForm)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IsoScoreStarAutogradMatmul)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IsoScoreStarPublished)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CosRegClosedForm)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CosRegPairwise)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, istar, "istar")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, cosreg, "cosreg")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, vicreg, "vicreg")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, uniformity, "uniformity")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, dispersion, "dispersion")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Term, sigreg, "sigreg")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace istar

BENCHMARK_MAIN();
