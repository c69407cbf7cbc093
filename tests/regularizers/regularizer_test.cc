// MakeRegularizer (regularizers/regularizer.h): every catalogue row builds its term, with its
// parameters checked against the row; each term is its function of the cloud.
#include "regularizers/regularizer.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "regularizers/isotropy.h"

namespace istar::regularizers {
namespace {

using ::testing::HasSubstr;

// Values inside every row's ranges for the parameters without a default.
ParameterValues RequiredValues(const catalog::RegularizerSpec& spec) {
  ParameterValues values;
  for (const catalog::ParameterSpec& parameter : spec.parameters) {
    if (parameter.name != "lambda" && !parameter.default_value) {
      values.emplace(std::string(parameter.name), 0.5);
    }
  }
  return values;
}

TEST(MakeRegularizer, EveryCatalogueRowWithAWeightHasATermAndTheBaselineNone) {
  for (const catalog::RegularizerSpec& spec : catalog::Regularizers()) {
    absl::StatusOr<std::unique_ptr<const Regularizer>> term =
        MakeRegularizer(spec.name, RequiredValues(spec));
    ASSERT_TRUE(term.ok()) << spec.name << ": " << term.status();
    EXPECT_EQ(*term != nullptr, spec.has_lambda()) << spec.name;
  }
}

TEST(MakeRegularizer, RefusesUnknownNamesMissingOrStrayParametersAndValuesOutOfRange) {
  const auto message = [](std::string_view name, const ParameterValues& values) {
    absl::StatusOr<std::unique_ptr<const Regularizer>> term = MakeRegularizer(name, values);
    EXPECT_EQ(term.status().code(), absl::StatusCode::kInvalidArgument) << name;
    return std::string(term.status().message());
  };
  EXPECT_THAT(message("l2", {}), HasSubstr("unknown regularizer 'l2'; expected one of baseline"));
  EXPECT_THAT(message("istar", {}), HasSubstr("istar needs its parameter 'zeta'"));
  EXPECT_THAT(message("istar", {{"zeta", 1.5}}), HasSubstr("zeta = 1.5 is outside its range"));
  EXPECT_THAT(message("vicreg", {{"gamma", 0.0}}), HasSubstr("gamma = 0 is outside its range"));
  EXPECT_THAT(message("cosreg", {{"zeta", 0.2}}), HasSubstr("cosreg has no parameter 'zeta'"));
  // lambda is the caller's weight, accepted and ignored.
  EXPECT_TRUE(MakeRegularizer("cosreg", {{"lambda", -3.0}}).ok());
}

at::Tensor Points(int64_t rows, int64_t dims, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({rows, dims}, at::kDouble) * at::linspace(0.3, 2.0, dims, at::kDouble);
}

double TermOf(std::string_view name, const ParameterValues& values, const PointCloud& cloud,
              const StepContext& step = {}) {
  absl::StatusOr<std::unique_ptr<const Regularizer>> term = MakeRegularizer(name, values);
  EXPECT_TRUE(term.ok() && *term != nullptr) << name << ": " << term.status();
  absl::StatusOr<at::Tensor> value = (*term)->Term(cloud, step);
  EXPECT_TRUE(value.ok()) << name << ": " << value.status();
  return value.ok() ? value->item<double>() : 0.0;
}

TEST(Terms, TheTokenTermsAreTheirFunctionsOfEveryPoint) {
  const PointCloud cloud{.points = Points(30, 6, 1), .tokens = 30, .layers = {1}};
  EXPECT_DOUBLE_EQ(TermOf("cosreg", {}, cloud), CosRegPenalty(cloud.points, {})->item<double>());
  EXPECT_DOUBLE_EQ(TermOf("istar", {{"zeta", 0.0}}, cloud),
                   1.0 - IsoScoreStar(cloud.points, {})->item<double>());
  const at::Tensor s0 = at::cov(Points(200, 6, 2).t());
  EXPECT_DOUBLE_EQ(
      TermOf("istar", {{"zeta", 0.4}}, cloud, {.shrinkage = s0}),
      1.0 - IsoScoreStar(cloud.points, {}, {.zeta = 0.4, .shrinkage = s0})->item<double>());
  // gamma's default is the row's (1).
  EXPECT_DOUBLE_EQ(TermOf("vicreg", {}, cloud),
                   VicRegPenalty(cloud.points, {}, {.gamma = 1.0})->item<double>());
  EXPECT_DOUBLE_EQ(TermOf("vicreg", {{"gamma", 2.5}}, cloud),
                   VicRegPenalty(cloud.points, {}, {.gamma = 2.5})->item<double>());
  EXPECT_DOUBLE_EQ(TermOf("sigreg", {}, cloud, {.draw_seed = 9}),
                   SigRegStatistic(cloud.points, {}, {.seed = 9})->item<double>());
  EXPECT_NE(TermOf("sigreg", {}, cloud, {.draw_seed = 9}),
            TermOf("sigreg", {}, cloud, {.draw_seed = 10}));
}

// Two layers of 7 tokens: sequence 0 holds tokens 0..3, sequence 1 none, sequence 2 tokens 4..6.
PointCloud SequenceCloud() {
  return {.points = Points(14, 5, 3),
          .tokens = 7,
          .layers = {1, 2},
          .sequence = at::tensor(std::vector<int64_t>{0, 0, 0, 0, 2, 2, 2}),
          .sequences = 3};
}

TEST(Terms, UniformityIsTheMeanOverLayersOfTheLossOfTheSequencesMeanVectors) {
  const PointCloud cloud = SequenceCloud();
  double expected = 0.0;
  for (int64_t layer = 0; layer < 2; ++layer) {
    const at::Tensor rows = cloud.points.slice(0, 7 * layer, 7 * layer + 7);
    // The empty sequence 1 has no vector.
    const at::Tensor vectors =
        at::stack({rows.slice(0, 0, 4).mean(0), rows.slice(0, 4, 7).mean(0)});
    expected += UniformityLoss(vectors, 3.0)->item<double>() / 2.0;
  }
  EXPECT_NEAR(TermOf("uniformity", {{"t", 3.0}}, cloud), expected, 1e-14);
}

TEST(Terms, DispersionIsTheMeanCosineWithinEachLayersSequences) {
  const PointCloud cloud = SequenceCloud();
  double expected = 0.0;
  for (int64_t layer = 0; layer < 2; ++layer) {
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 4}, {4, 7}}) {
      double sum = 0.0;
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j = begin; j < end; ++j) {
          if (i == j) continue;
          sum += at::cosine_similarity(cloud.points[7 * layer + i], cloud.points[7 * layer + j], 0)
                     .item<double>();
        }
      }
      expected += sum / static_cast<double>((end - begin) * (end - begin - 1)) / 4.0;
    }
  }
  EXPECT_NEAR(TermOf("dispersion", {}, cloud), expected, 1e-14);
}

TEST(Terms, SequenceTermsRefuseACloudThatDoesNotSayItsSequences) {
  PointCloud cloud = SequenceCloud();
  cloud.sequence = at::Tensor();
  for (std::string_view name : {"uniformity", "dispersion"}) {
    absl::StatusOr<std::unique_ptr<const Regularizer>> term = MakeRegularizer(name, {});
    ASSERT_TRUE(term.ok());
    absl::StatusOr<at::Tensor> value = (*term)->Term(cloud, {});
    EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(value.status().message()),
                HasSubstr("needs the sequence of each token"));
  }
  cloud = SequenceCloud();
  cloud.tokens = 6;  // 14 rows are not 2 layers of 6 tokens
  absl::StatusOr<std::unique_ptr<const Regularizer>> term = MakeRegularizer("dispersion", {});
  ASSERT_TRUE(term.ok());
  EXPECT_EQ((*term)->Term(cloud, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::regularizers
