// The comparison table on a database with known numbers, computed by hand below.
#include <memory>
#include <string>
#include <vector>

#include "db/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/db/test_util.h"

namespace istar::db {
namespace {

using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenReadOnly;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::ScratchDir;
using ::istar::db::testing::TrialArgs;
using ::testing::ElementsAre;

constexpr double kTolerance = 1e-9;

// One trial to store: its settings, its status and its final results.
struct Planned {
  TrialArgs args;
  std::vector<FinalResult> results;
  bool done = true;
};

FinalResult Accuracy(double value) { return {"validation", "accuracy", value}; }

// Stores `planned` as sweep `name` (trial numbers from `first`), finishing the done ones.
void StoreTrials(db::Store& store, const std::string& name, const std::vector<Planned>& planned,
                 int first) {
  std::vector<sweeps::TrialSpec> trials;
  for (size_t i = 0; i < planned.size(); ++i) {
    trials.push_back(MakeTrial(first + static_cast<int>(i), planned[i].args));
  }
  ASSERT_TRUE(store.SubmitSweep(MakeSweep(name, trials)).ok());
  for (size_t i = 0; i < planned.size(); ++i) {
    ASSERT_TRUE(store.MarkTrialRunning(trials[i].id).ok());
    if (planned[i].done) {
      ASSERT_TRUE(store.MarkTrialDone(trials[i].id).ok());
    }
    ASSERT_TRUE(store.WriteFinalResults(trials[i].id, planned[i].results).ok());
  }
}

// bert/sst2:
//   baseline (one group): seeds 0, 1, 2 -> 0.90, 0.92, 0.94: mean 0.92, s = 0.02.
//   cosreg (lambda 1): seed 0 -> 0.925: n = 1, no s, difference +0.005 with no interval.
//   istar, lambda -5, zeta 0.2 (listed first): 0.90, 0.91, 0.92: mean 0.91, s = 0.01.
//   istar, lambda -1, zeta 0.2 (the best): 0.93, 0.94, 0.98: mean 0.95,
//     squares 0.0004 + 0.0001 + 0.0009 = 0.0014, s^2 = 0.0007, s = 0.0264575131106459.
//     A running trial of that group (0.10) and its test-split and f1 rows must be ignored.
//   istar - baseline = 0.03; sa^2/na = 7e-4/3, sb^2/nb = 4e-4/3, se^2 = 11e-4/3,
//     se = 0.0191485421551267622;
//     df = (11/3)^2 / (((7/3)^2 + (4/3)^2) / 2) = 121 / 32.5 = 242/65 = 3.72307692307692;
//     t_{0.975, 242/65} = 2.85981704802541048 (mpmath), half width t se = 0.0547613273000647,
//     interval [-0.0247613273000647, 0.0847613273000647].
// distilbert/sst2: istar only, 0.85 and 0.87: mean 0.86, s = 0.01 sqrt(2); no baseline to
//   compare with.
class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<db::Store> writer = OpenStore(path_);
    ASSERT_NE(writer, nullptr);
    const TrialArgs istar_a{.regularizer = "istar", .lambda = -1, .zeta = 0.2};
    const TrialArgs istar_b{.regularizer = "istar", .lambda = -5, .zeta = 0.2};
    std::vector<Planned> planned = {
        {{.seed = 0}, {Accuracy(0.90)}},
        {{.seed = 1}, {Accuracy(0.92)}},
        {{.seed = 2}, {Accuracy(0.94)}},
        {{.regularizer = "cosreg", .lambda = 1}, {Accuracy(0.925)}},
        {istar_b, {Accuracy(0.90)}},
        {istar_a, {Accuracy(0.93), {"test", "accuracy", 0.5}, {"validation", "f1", 0.1}}},
    };
    for (const auto& [seed, value] : {std::pair{1, 0.91}, {2, 0.92}}) {
      TrialArgs args = istar_b;
      args.seed = seed;
      planned.push_back({args, {Accuracy(value)}});
    }
    for (const auto& [seed, value] : {std::pair{1, 0.94}, {2, 0.98}}) {
      TrialArgs args = istar_a;
      args.seed = seed;
      planned.push_back({args, {Accuracy(value)}});
    }
    TrialArgs running = istar_a;
    running.seed = 3;
    planned.push_back({running, {Accuracy(0.10)}, /*done=*/false});
    StoreTrials(*writer, "bert", planned, 1);
    const TrialArgs distil{
        .model = "distilbert", .regularizer = "istar", .lambda = -5, .zeta = 0.2};
    TrialArgs distil_1 = distil;
    distil_1.seed = 1;
    StoreTrials(*writer, "distil", {{distil, {Accuracy(0.85)}}, {distil_1, {Accuracy(0.87)}}}, 100);
    store_ = OpenReadOnly(path_);
    ASSERT_NE(store_, nullptr);
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  std::unique_ptr<db::Store> store_;
};

TEST_F(CompareTest, GivesTheHandComputedTable) {
  absl::StatusOr<ComparisonTable> table = store_->Compare();
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->regularizers, ElementsAre("baseline", "cosreg", "istar"));
  ASSERT_EQ(table->rows.size(), 2u);

  const ComparisonRow& bert = table->rows[0];
  EXPECT_EQ(bert.model, "bert");
  EXPECT_EQ(bert.task, "sst2");
  EXPECT_EQ(bert.metric, "accuracy");
  ASSERT_EQ(bert.cells.size(), 3u);
  ASSERT_TRUE(bert.cells[0] && bert.cells[1] && bert.cells[2]);

  const ComparisonCell& baseline = *bert.cells[0];
  EXPECT_EQ(baseline.seeds, 3);
  EXPECT_EQ(baseline.groups, 1);
  EXPECT_NEAR(baseline.mean, 0.92, kTolerance);
  EXPECT_NEAR(*baseline.stddev, 0.02, kTolerance);
  EXPECT_FALSE(baseline.vs_baseline.has_value());

  const ComparisonCell& cosreg = *bert.cells[1];
  EXPECT_EQ(cosreg.seeds, 1);
  EXPECT_FALSE(cosreg.stddev.has_value());
  ASSERT_TRUE(cosreg.vs_baseline.has_value());
  EXPECT_NEAR(cosreg.vs_baseline->difference, 0.005, kTolerance);
  EXPECT_FALSE(cosreg.vs_baseline->low.has_value());

  const ComparisonCell& istar = *bert.cells[2];
  EXPECT_EQ(istar.groups, 2);
  EXPECT_EQ(istar.chosen.lambda, -1.0);  // the second group in (lambda, zeta, ...) order
  EXPECT_EQ(istar.chosen.zeta, 0.2);
  EXPECT_EQ(istar.chosen.learning_rate, 1e-5);
  EXPECT_EQ(istar.chosen.batch_size, 32);
  EXPECT_EQ(istar.chosen.epochs, 4);
  EXPECT_EQ(istar.seeds, 3);
  EXPECT_THAT(istar.values, ElementsAre(0.93, 0.94, 0.98));
  EXPECT_NEAR(istar.mean, 0.95, kTolerance);
  EXPECT_NEAR(*istar.stddev, 0.0264575131106459, kTolerance);
  ASSERT_TRUE(istar.vs_baseline.has_value());
  EXPECT_NEAR(istar.vs_baseline->difference, 0.03, kTolerance);
  EXPECT_NEAR(*istar.vs_baseline->df, 242.0 / 65.0, kTolerance);
  EXPECT_NEAR(*istar.vs_baseline->low, -0.0247613273000647, kTolerance);
  EXPECT_NEAR(*istar.vs_baseline->high, 0.0847613273000647, kTolerance);

  const ComparisonRow& distil = table->rows[1];
  EXPECT_EQ(distil.model, "distilbert");
  ASSERT_EQ(distil.cells.size(), 3u);
  EXPECT_FALSE(distil.cells[0].has_value());
  EXPECT_FALSE(distil.cells[1].has_value());
  ASSERT_TRUE(distil.cells[2].has_value());
  EXPECT_NEAR(distil.cells[2]->mean, 0.86, kTolerance);
  EXPECT_NEAR(*distil.cells[2]->stddev, 0.01 * std::sqrt(2.0), kTolerance);
  EXPECT_FALSE(distil.cells[2]->vs_baseline.has_value());
}

TEST_F(CompareTest, ASweepFilterKeepsOnlyItsTrials) {
  absl::StatusOr<ComparisonTable> table = store_->Compare({.sweeps = {"distil"}});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->regularizers, ElementsAre("istar"));
  ASSERT_EQ(table->rows.size(), 1u);
  EXPECT_EQ(table->rows[0].model, "distilbert");
  EXPECT_EQ(store_->Compare({.sweeps = {"none"}}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CompareTest, LowerIsBetterPicksTheSmallestMean) {
  absl::StatusOr<ComparisonTable> table = store_->Compare({.higher_is_better = false});
  ASSERT_TRUE(table.ok()) << table.status();
  const ComparisonCell& istar = *table->rows[0].cells[2];
  EXPECT_EQ(istar.chosen.lambda, -5.0);
  EXPECT_NEAR(istar.mean, 0.91, kTolerance);
}

TEST_F(CompareTest, AnExplicitMetricAndSplitAreUsed) {
  absl::StatusOr<ComparisonTable> table = store_->Compare({.metric = "accuracy", .split = "test"});
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows.size(), 1u);
  EXPECT_THAT(table->regularizers, ElementsAre("istar"));
  EXPECT_NEAR(table->rows[0].cells[0]->mean, 0.5, kTolerance);
  EXPECT_EQ(table->rows[0].cells[0]->seeds, 1);
}

TEST_F(CompareTest, AConfidenceOutsideZeroToOneIsInvalidArgument) {
  EXPECT_EQ(store_->Compare({.confidence = 1.0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Compare({.split = ""}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Two vicreg groups that differ only in gamma (a parameter without a column of its own, read from
// the canonical configuration) are two groups, and the columns follow the catalogue's order
// (baseline, cosreg, istar, vicreg, ...), whatever the order of submission.
TEST(CompareParameters, GroupsDifferingInAnyRegularizerParameterStayApart) {
  ScratchDir dir;
  std::unique_ptr<db::Store> store = OpenStore(dir.Path("gamma.db"));
  ASSERT_NE(store, nullptr);
  // gamma 0.5: seeds 0, 1 -> 0.80, 0.84 (mean 0.82); gamma 2: seeds 0, 1 -> 0.90, 0.86 (0.88).
  const struct {
    int n;
    double gamma;
    int64_t seed;
    double accuracy;
  } vicreg[] = {{1, 0.5, 0, 0.80}, {2, 0.5, 1, 0.84}, {3, 2.0, 0, 0.90}, {4, 2.0, 1, 0.86}};
  std::vector<sweeps::TrialSpec> trials;
  for (const auto& v : vicreg) {
    sweeps::TrialSpec trial =
        MakeTrial(v.n, {.regularizer = "vicreg", .lambda = 1, .seed = v.seed});
    trial.canonical_json =
        "{\"gamma\":" + std::to_string(v.gamma) + ",\"n\":" + std::to_string(v.n) + "}";
    trials.push_back(trial);
  }
  trials.push_back(MakeTrial(5, {.regularizer = "baseline"}));
  ASSERT_TRUE(store->SubmitSweep(MakeSweep("v", trials)).ok());
  const double accuracies[] = {0.80, 0.84, 0.90, 0.86, 0.85};
  for (size_t i = 0; i < trials.size(); ++i) {
    ASSERT_TRUE(store->MarkTrialRunning(trials[i].id).ok());
    ASSERT_TRUE(store->MarkTrialDone(trials[i].id).ok());
    const std::vector<FinalResult> results = {Accuracy(accuracies[i])};
    ASSERT_TRUE(store->WriteFinalResults(trials[i].id, results).ok());
  }
  absl::StatusOr<ComparisonTable> table = store->Compare({});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->regularizers, ElementsAre("baseline", "vicreg"));
  ASSERT_EQ(table->rows.size(), 1u);
  const ComparisonCell& cell = *table->rows[0].cells[1];
  EXPECT_EQ(cell.groups, 2);
  EXPECT_THAT(cell.chosen.parameters, ElementsAre(::testing::Pair("gamma", 2.0)));
  EXPECT_NEAR(cell.mean, 0.88, kTolerance);
  EXPECT_EQ(cell.seeds, 2);
}

TEST(CompareTies, PreferMoreSeedsThenSmallerHyperparameters) {
  ScratchDir dir;
  std::unique_ptr<db::Store> store = OpenStore(dir.Path("ties.db"));
  ASSERT_NE(store, nullptr);
  // Three squad groups with the same mean f1 of 80: lambda -3 (1 seed), lambda -2 and lambda -1
  // (2 seeds each). More seeds beat one seed; of the two with 2 seeds, lambda -2 is smaller.
  auto squad = [](double lambda, int64_t seed) {
    return TrialArgs{.task = "squad", .regularizer = "istar", .lambda = lambda, .seed = seed};
  };
  const FinalResult f1_80{"validation", "f1", 80};
  const FinalResult f1_79{"validation", "f1", 79};
  const FinalResult f1_81{"validation", "f1", 81};
  StoreTrials(*store, "ties",
              {{squad(-1, 0), {f1_79}},
               {squad(-1, 1), {f1_81}},
               {squad(-3, 0), {f1_80}},
               {squad(-2, 0), {f1_81}},
               {squad(-2, 1), {f1_79}}},
              1);
  absl::StatusOr<ComparisonTable> table = store->Compare();  // squad's primary metric: f1
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows.size(), 1u);
  EXPECT_EQ(table->rows[0].metric, "f1");
  const ComparisonCell& cell = *table->rows[0].cells[0];
  EXPECT_EQ(cell.groups, 3);
  EXPECT_EQ(cell.chosen.lambda, -2.0);
  EXPECT_EQ(cell.seeds, 2);
  EXPECT_NEAR(cell.mean, 80.0, kTolerance);
}

}  // namespace
}  // namespace istar::db
