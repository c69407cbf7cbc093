// Sampled sweeps: reproducible draws, values within their distributions, duplicates kept once.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::Ids;
using ::istar::sweeps::testing::Parse;

constexpr char kSpace[] = R"yaml(
name: random
models: {bert: /b, distilbert: /d}
tasks: {sst2: /s, qnli: /q}
grid:
  learning_rate: {log_uniform: [1e-6, 1e-4]}
  batch_size: {choice: [16, 32, 64]}
  epochs: [2, 3]
  seed: {uniform: [0, 9]}
  regularizers:
    - baseline
    - cosreg: {lambda: {log_uniform: [0.1, 10]}}
    - istar: {lambda: {log_uniform: [-10, -0.1]}, zeta: {uniform: [0, 1]}}
sample: {count: 500, seed: 11}
)yaml";

std::string WithSampleSeed(int seed) {
  std::string yaml = kSpace;
  const std::string from = "seed: 11}";
  yaml.replace(yaml.find(from), from.size(), "seed: " + std::to_string(seed) + "}");
  return yaml;
}

TEST(Sampling, SameSeedDrawsTheSameTrialsAndAnotherSeedOthers) {
  const std::vector<std::string> first = Ids(Parse(WithSampleSeed(11)));
  ASSERT_EQ(first.size(), 500u);
  EXPECT_EQ(Ids(Parse(WithSampleSeed(11))), first);
  const std::vector<std::string> other = Ids(Parse(WithSampleSeed(12)));
  ASSERT_EQ(other.size(), 500u);
  EXPECT_NE(other, first);
}

TEST(Sampling, ARegularizersOwnParametersAreDrawnWithinTheirAxes) {
  const SweepSpec sweep = Parse(R"yaml(
name: vicreg
models: {bert: /b}
tasks: {sst2: /s}
grid:
  regularizers:
    - vicreg: {lambda: {uniform: [0.1, 1]}, gamma: {log_uniform: [0.5, 4]}}
sample: {count: 200, seed: 3}
)yaml");
  ASSERT_GT(sweep.trials.size(), 150u);
  std::set<double> gammas;
  for (const TrialSpec& t : sweep.trials) {
    const double gamma = t.parameters.at("gamma");
    EXPECT_GE(gamma, 0.5);
    EXPECT_LE(gamma, 4.0);
    EXPECT_GE(t.lambda, 0.1);
    EXPECT_LE(t.lambda, 1.0);
    gammas.insert(gamma);
  }
  EXPECT_GT(gammas.size(), 150u);  // drawn per trial, not fixed
}

// Expected values from an independent implementation of mt19937_64 (a few lines of Python
// following the standard's definition, checked against its 10000th output, 9981545732273789042)
// and the formulas of Note [Portable random draws]: per draw, 9 outputs in the order model, task,
// regularizer entry, lambda, zeta, learning_rate, batch_size, epochs, seed.
TEST(Sampling, DrawsFollowTheDocumentedDerivationFromMt19937_64) {
  const SweepSpec sweep = Parse(R"yaml(
name: pinned
models: {a: /a, b: /b, c: /c}
tasks: {sst2: /s}
grid:
  regularizers: [baseline]
  learning_rate: {uniform: [0.001, 0.002]}
  seed: {uniform: [0, 999999]}
sample: {count: 3, seed: 7}
)yaml");
  ASSERT_EQ(sweep.trials.size(), 3u);
  EXPECT_EQ(sweep.trials[0].model, "a");
  EXPECT_EQ(sweep.trials[0].learning_rate, 0.00105509);  // 0.001055093158503943, 6 digits
  EXPECT_EQ(sweep.trials[0].seed, 854881);
  EXPECT_EQ(sweep.trials[1].model, "c");
  EXPECT_EQ(sweep.trials[1].learning_rate, 0.00183217);
  EXPECT_EQ(sweep.trials[1].seed, 428161);
  EXPECT_EQ(sweep.trials[2].model, "a");
  EXPECT_EQ(sweep.trials[2].learning_rate, 0.00103345);
  EXPECT_EQ(sweep.trials[2].seed, 365279);
}

TEST(Sampling, ValuesStayWithinTheirDistributions) {
  const SweepSpec sweep = Parse(kSpace);
  std::set<int64_t> seeds;
  std::set<std::string> regularizers;
  for (const TrialSpec& t : sweep.trials) {
    regularizers.insert(t.regularizer);
    seeds.insert(t.seed);
    EXPECT_TRUE(t.learning_rate >= 1e-6 && t.learning_rate <= 1e-4) << t.learning_rate;
    EXPECT_TRUE(t.batch_size == 16 || t.batch_size == 32 || t.batch_size == 64) << t.batch_size;
    EXPECT_TRUE(t.epochs == 2 || t.epochs == 3) << t.epochs;
    EXPECT_TRUE(t.seed >= 0 && t.seed <= 9) << t.seed;
    if (t.regularizer == "cosreg") {
      EXPECT_TRUE(t.lambda >= 0.1 && t.lambda <= 10) << t.lambda;
      EXPECT_EQ(t.zeta, 0.0);
    } else if (t.regularizer == "istar") {
      EXPECT_TRUE(t.lambda >= -10 && t.lambda <= -0.1) << t.lambda;  // the sign is kept
      EXPECT_TRUE(t.zeta >= 0.0 && t.zeta <= 1.0) << t.zeta;
    } else {
      EXPECT_EQ(t.lambda, 0.0);
    }
  }
  EXPECT_EQ(seeds.size(), 10u);  // integer uniform is inclusive of both ends
  EXPECT_EQ(regularizers.size(), 3u);
}

TEST(Sampling, LogUniformIsUniformInTheLogarithmOfTheMagnitude) {
  int below_geometric_midpoint = 0, magnitude_below_one = 0, istar = 0;
  const SweepSpec sweep = Parse(kSpace);
  for (const TrialSpec& t : sweep.trials) {
    below_geometric_midpoint += t.learning_rate < 1e-5 ? 1 : 0;
    if (t.regularizer != "istar") continue;
    ++istar;
    magnitude_below_one += std::abs(t.lambda) < 1.0 ? 1 : 0;  // |lambda| in [0.1, 10]
  }
  // A uniform draw would put 9% below 1e-5; log-uniform puts half there.
  EXPECT_NEAR(below_geometric_midpoint / 500.0, 0.5, 0.1);
  EXPECT_NEAR(static_cast<double>(magnitude_below_one) / istar, 0.5, 0.15);
}

TEST(Sampling, RealValuesAreRoundedToSixSignificantDigits) {
  for (const TrialSpec& t : Parse(kSpace).trials) {
    for (const double value : {t.learning_rate, t.lambda, t.zeta}) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.5e", value);
      EXPECT_EQ(std::strtod(text, nullptr), value) << text;
    }
  }
}

TEST(Sampling, DuplicateDrawsAreKeptOnce) {
  const SweepSpec sweep = Parse(R"yaml(
name: tiny
models: {m: /m}
tasks: {sst2: /s}
grid: {seed: [0, 1], regularizers: [baseline]}
sample: {count: 50}
)yaml");
  EXPECT_EQ(sweep.trials.size(), 2u);
}

TEST(Sampling, ListsAreUniformChoicesAndTheGridSizeLimitDoesNotApply) {
  std::string seeds;
  for (int i = 0; i < 2000; ++i) seeds += (i ? ", " : "") + std::to_string(i);
  std::string rates;
  for (int i = 1; i <= 1000; ++i) rates += (i > 1 ? ", " : "") + std::to_string(i) + "e-7";
  const SweepSpec sweep = Parse(
      "name: big\nmodels: {m: /m}\ntasks: {sst2: /s}\ngrid:\n"
      "  regularizers: [baseline]\n  seed: [" +
      seeds + "]\n  learning_rate: [" + rates + "]\nsample: {count: 20}\n");
  EXPECT_EQ(sweep.trials.size(), 20u);
}

}  // namespace
}  // namespace istar::sweeps
