// Grid expansion: how many trials, in which order, with which settings.
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::Parse;
using ::testing::ElementsAre;
using ::testing::Pair;

// 2 models x 2 tasks x (1 baseline + 2 cosreg + 3 x 2 istar) x 2 lr x 1 batch x 2 epochs x 3
// seeds = 4 x 9 x 12 = 432 trials.
constexpr char kGrid[] = R"yaml(
name: counts
models:
  bert: /ckpt/bert
  distilbert: /ckpt/distilbert
tasks:
  sst2: /data/sst2
  qnli: /data/qnli
grid:
  learning_rate: [1e-5, 2e-5]
  batch_size: [32]
  epochs: [3, 4]
  seed: [0, 1, 2]
  regularizers:
    - baseline
    - cosreg: {lambda: [0.5, 1]}
    - istar: {lambda: [-5, -1, 1], zeta: [0.2, 0.8]}
)yaml";

std::map<std::string, int> CountByRegularizer(const SweepSpec& sweep) {
  std::map<std::string, int> counts;
  for (const TrialSpec& trial : sweep.trials) ++counts[trial.regularizer];
  return counts;
}

TEST(TrialExpansion, CountIsSharedAxesTimesEachRegularizersOwnAxes) {
  const SweepSpec sweep = Parse(kGrid);
  EXPECT_EQ(sweep.trials.size(), 432u);
  // Shared axes: 2 models x 2 tasks x 2 lr x 1 batch x 2 epochs x 3 seeds = 48.
  EXPECT_THAT(CountByRegularizer(sweep),
              ElementsAre(Pair("baseline", 48), Pair("cosreg", 2 * 48), Pair("istar", 3 * 2 * 48)));
}

TEST(TrialExpansion, ARegularizersOwnParametersAreAxesInsideLambdaAndZeta) {
  const SweepSpec sweep = Parse(R"yaml(
name: vicreg
models: {m: /m}
tasks: {sst2: /s}
grid:
  seed: [0, 1]
  regularizers:
    - vicreg: {lambda: [1, 2], gamma: [0.5, 1, 2]}
)yaml");
  using Row = std::tuple<double, double, int64_t>;
  std::vector<Row> rows;
  for (const TrialSpec& t : sweep.trials) {
    rows.emplace_back(t.lambda, t.parameters.at("gamma"), t.seed);
    EXPECT_EQ(t.zeta, 0.0);
  }
  EXPECT_THAT(rows, ElementsAre(Row{1, 0.5, 0}, Row{1, 0.5, 1}, Row{1, 1, 0}, Row{1, 1, 1},
                                Row{1, 2, 0}, Row{1, 2, 1}, Row{2, 0.5, 0}, Row{2, 0.5, 1},
                                Row{2, 1, 0}, Row{2, 1, 1}, Row{2, 2, 0}, Row{2, 2, 1}));
}

TEST(TrialExpansion, BaselineIgnoresLambdaAndZetaAndCosRegIgnoresZeta) {
  for (const TrialSpec& trial : Parse(kGrid).trials) {
    if (trial.regularizer == "baseline") {
      EXPECT_EQ(trial.lambda, 0.0);
      EXPECT_EQ(trial.zeta, 0.0);
    } else if (trial.regularizer == "cosreg") {
      EXPECT_EQ(trial.zeta, 0.0);
    }
  }
}

TEST(TrialExpansion, OrderIsModelTaskEntryLambdaZetaRateBatchEpochsSeed) {
  const SweepSpec sweep = Parse(R"yaml(
name: order
models: {m1: /a, m2: /b}
tasks: {sst2: /s}
grid:
  model: [m2, m1]
  learning_rate: [1e-5, 2e-5]
  seed: [7, 3]
  regularizers:
    - istar: {lambda: [1, -1], zeta: [0.5, 0.25]}
    - baseline
)yaml");
  using Row = std::tuple<std::string, std::string, double, double, double, int64_t>;
  std::vector<Row> rows;
  for (const TrialSpec& t : sweep.trials) {
    rows.emplace_back(t.model, t.regularizer, t.lambda, t.zeta, t.learning_rate, t.seed);
  }
  std::vector<Row> expected;
  for (const std::string model : {"m2", "m1"}) {
    for (const double lambda : {1.0, -1.0}) {
      for (const double zeta : {0.5, 0.25}) {
        for (const double lr : {1e-5, 2e-5}) {
          for (const int64_t seed : {7, 3})
            expected.emplace_back(model, "istar", lambda, zeta, lr, seed);
        }
      }
    }
    for (const double lr : {1e-5, 2e-5}) {
      for (const int64_t seed : {7, 3})
        expected.emplace_back(model, "baseline", 0.0, 0.0, lr, seed);
    }
  }
  EXPECT_EQ(rows, expected);
}

TEST(TrialExpansion, BatchSizeIsOutsideEpochsWhichIsOutsideSeed) {
  const SweepSpec sweep = Parse(R"yaml(
name: inner
models: {m: /m}
tasks: {sst2: /s}
grid:
  seed: [0, 1]
  epochs: [1, 2]
  batch_size: [8, 16]
  regularizers: [baseline]
)yaml");
  std::vector<std::tuple<int64_t, int64_t, int64_t>> rows;
  for (const TrialSpec& t : sweep.trials) rows.emplace_back(t.batch_size, t.epochs, t.seed);
  EXPECT_THAT(rows, ElementsAre(std::tuple(8, 1, 0), std::tuple(8, 1, 1), std::tuple(8, 2, 0),
                                std::tuple(8, 2, 1), std::tuple(16, 1, 0), std::tuple(16, 1, 1),
                                std::tuple(16, 2, 0), std::tuple(16, 2, 1)));
}

TEST(TrialExpansion, OmittedAxesTakeTheDocumentedDefaults) {
  const SweepSpec sweep = Parse(R"yaml(
name: defaults
models: {b: /b, a: /a}
tasks: {squad: /q, sst2: /s}
grid: {regularizers: [baseline]}
)yaml");
  ASSERT_EQ(sweep.trials.size(), 4u);
  // Every model and every task, in file order (not sorted).
  EXPECT_EQ(sweep.trials[0].model, "b");
  EXPECT_EQ(sweep.trials[0].task, "squad");
  EXPECT_EQ(sweep.trials[1].task, "sst2");
  EXPECT_EQ(sweep.trials[2].model, "a");
  for (const TrialSpec& trial : sweep.trials) {
    EXPECT_EQ(trial.batch_size, 32);
    EXPECT_EQ(trial.epochs, 4);
    EXPECT_EQ(trial.seed, 0);
    EXPECT_EQ(trial.learning_rate, 1e-5);
  }
  const TrainingSettings defaults;
  EXPECT_EQ(sweep.training.max_seq_length, defaults.max_seq_length);
  EXPECT_EQ(sweep.training.precision, "fp32");
  EXPECT_TRUE(sweep.training.regularizer_layers.empty());
  EXPECT_EQ(sweep.training.ranks_per_trial, 1);
  EXPECT_EQ(sweep.training.lr_schedule, LrSchedule::kLinear);
  EXPECT_EQ(sweep.training.max_grad_norm, 1.0);
}

TEST(TrialExpansion, DuplicateTrialsAreKeptOnceAtTheirFirstPosition) {
  const SweepSpec sweep = Parse(R"yaml(
name: duplicates
models: {m: /m}
tasks: {sst2: /s}
grid:
  seed: [1, 0, 1]
  regularizers:
    - cosreg: {lambda: [1, 1.0]}
    - baseline
    - baseline
    - istar: {lambda: [2], zeta: [0.5]}
    - istar: {lambda: [2, 3], zeta: [0.5]}
)yaml");
  std::vector<std::tuple<std::string, double, int64_t>> rows;
  for (const TrialSpec& t : sweep.trials) {
    rows.emplace_back(t.regularizer, t.lambda, t.seed);
  }
  EXPECT_THAT(rows, ElementsAre(std::tuple("cosreg", 1.0, 1), std::tuple("cosreg", 1.0, 0),
                                std::tuple("baseline", 0.0, 1), std::tuple("baseline", 0.0, 0),
                                std::tuple("istar", 2.0, 1), std::tuple("istar", 2.0, 0),
                                std::tuple("istar", 3.0, 1), std::tuple("istar", 3.0, 0)));
}

constexpr char kEverySetting[] = R"yaml(
name: paths
models: {bert: /ckpt/bert}
tasks: {qnli: /data/QNLI}
training:
  max_seq_length: 128
  warmup_ratio: 0.1
  weight_decay: 0.01
  precision: bf16
  eval_every_steps: 500
  isotropy_every_steps: 25
  regularizer_layers: [12, 1, 6]
  shrinkage_points: 1000
  ranks_per_trial: 4
  lr_schedule: constant
  max_grad_norm: 0.5
grid:
  batch_size: 16        # a single value needs no brackets
  regularizers: [baseline]
)yaml";

TEST(TrialExpansion, SettingsPathsAndSourceAreCopiedIntoTheSpec) {
  const std::string yaml = kEverySetting;
  const absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "dir/paths.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->name, "paths");
  EXPECT_EQ(sweep->source, "dir/paths.yaml");
  EXPECT_EQ(sweep->yaml, yaml);
  EXPECT_THAT(sweep->models, ElementsAre(Pair("bert", "/ckpt/bert")));
  EXPECT_THAT(sweep->tasks, ElementsAre(Pair("qnli", "/data/QNLI")));
  ASSERT_EQ(sweep->trials.size(), 1u);
  const TrialSpec& trial = sweep->trials[0];
  EXPECT_EQ(trial.model_path, "/ckpt/bert");
  EXPECT_EQ(trial.task_path, "/data/QNLI");
  EXPECT_EQ(trial.batch_size, 16);
  for (const TrainingSettings* training : {&sweep->training, &trial.training}) {
    EXPECT_EQ(training->max_seq_length, 128);
    EXPECT_EQ(training->warmup_ratio, 0.1);
    EXPECT_EQ(training->weight_decay, 0.01);
    EXPECT_EQ(training->precision, "bf16");
    EXPECT_EQ(training->eval_every_steps, 500);
    EXPECT_EQ(training->isotropy_every_steps, 25);
    EXPECT_THAT(training->regularizer_layers, ElementsAre(1, 6, 12));  // sorted
    EXPECT_EQ(training->shrinkage_points, 1000);
    EXPECT_EQ(training->ranks_per_trial, 4);
    EXPECT_EQ(training->lr_schedule, LrSchedule::kConstant);
    EXPECT_EQ(training->max_grad_norm, 0.5);
  }
}

TEST(TrialExpansion, MaxGradNormOffMeansNoClippingQuotedOrNot) {
  for (const char* off : {"off", "'off'", "\"off\""}) {
    SCOPED_TRACE(off);
    const SweepSpec sweep = Parse(
        absl::StrCat("name: n\nmodels: {m: /m}\ntasks: {sst2: /s}\ntraining: {max_grad_norm: ", off,
                     "}\ngrid: {regularizers: [baseline]}\n"));
    ASSERT_EQ(sweep.trials.size(), 1u);
    EXPECT_EQ(sweep.trials[0].training.max_grad_norm, std::nullopt);
  }
}

TEST(LrScheduleName, NamesEveryScheduleAndParsesItBack) {
  for (const LrSchedule schedule : {LrSchedule::kLinear, LrSchedule::kConstant}) {
    EXPECT_EQ(ParseLrSchedule(LrScheduleName(schedule)), schedule);
  }
  EXPECT_EQ(LrScheduleName(LrSchedule::kLinear), "linear");
  EXPECT_EQ(LrScheduleName(LrSchedule::kConstant), "constant");
  EXPECT_EQ(ParseLrSchedule("Constant"), std::nullopt);
  EXPECT_EQ(ParseLrSchedule(""), std::nullopt);
}

}  // namespace
}  // namespace istar::sweeps
