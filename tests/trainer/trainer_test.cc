// End-to-end tests of RunTrial on the tasks module's demo sentiment data and a tiny random BERT.
#include "trainer/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/store.h"
#include "models/config.h"
#include "sweeps/sweep.h"
#include "tasks/task.h"
#include "tests/trainer/tiny_bert_folder.h"
#include "trainer/device.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A two-epoch trial run to its end with checkpoints in `checkpoint_dir`: its result and its final
// weights (epoch-2/model.safetensors); a test failure, and an empty result, unless it ends done.
struct FinishedRun {
  TrialResult result;
  std::string weights;
};

FinishedRun RunToTheEnd(const sweeps::TrialSpec& trial, const std::string& db,
                        const std::string& checkpoint_dir) {
  absl::StatusOr<TrialResult> result =
      RunTrial(trial, {.db_path = db, .checkpoint_dir = checkpoint_dir, .progress = false});
  if (!result.ok() || result->status != TrialOutcome::kDone) {
    ADD_FAILURE() << "the run did not end done: "
                  << (result.ok()
                          ? std::string(TrialOutcomeName(result->status)) + " " + result->error
                          : result.status().ToString());
    return {};
  }
  return {*result, ReadFile(fs::path(checkpoint_dir) / trial.id / "epoch-2" / "model.safetensors")};
}

// A tiny BERT (hidden 32, 2 layers) with the demo vocabulary and no weights file, and the demo
// sentiment task, made once for the whole suite.
class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new fs::path(fs::temp_directory_path() / absl::StrCat("istar_trainer_test_", ::getpid()));
    ASSERT_TRUE(
        tasks::WriteDemoSentimentTask((*root_ / "sst2").string(),
                                      {.seed = 7, .train_examples = 640, .dev_examples = 200})
            .ok());
    ASSERT_TRUE(tasks::WriteDemoQaTask((*root_ / "squad").string(),
                                       {.seed = 7, .train_examples = 320, .dev_examples = 64})
                    .ok());
    ASSERT_NO_FATAL_FAILURE(WriteTinyBertFolder(*root_ / "model"));
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete root_;
  }

  // The one trial of a sweep with regularizer entry `regularizer` ("baseline", "istar: {...}");
  // `training` adds lines to the training section ("  lr_schedule: constant\n").
  static sweeps::TrialSpec Trial(const std::string& regularizer, double lr = 2e-3,
                                 int64_t epochs = 3, const std::string& task = "sst2",
                                 const std::string& training = "") {
    const std::string yaml = absl::StrCat(
        "name: test\nmodels:\n  tiny: ", (*root_ / "model").string(), "\ntasks:\n  ", task, ": ",
        (*root_ / task).string(),
        "\ntraining:\n  max_seq_length: 32\n  isotropy_every_steps: 10\n"
        "  shrinkage_points: 4000\n",
        training, "grid:\n  batch_size: [32]\n  epochs: [", epochs, "]\n  learning_rate: [", lr,
        "]\n  seed: [1]\n  regularizers:\n    - ", regularizer, "\n");
    absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "test.yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep->trials.at(0);
  }

  // A fresh path under the suite's folder.
  static std::string Path(const std::string& name) {
    return (*root_ / absl::StrCat(name, "_", counter_++)).string();
  }

  // IsoScore (zeta 0) of the union of layers at the last logged step.
  static double FinalUnionIsoScore(const std::string& db_path, const std::string& trial_id) {
    auto store = db::Store::Open(db_path);
    EXPECT_TRUE(store.ok()) << store.status();
    auto trajectories = (*store)->ExportTrajectories(trial_id);
    EXPECT_TRUE(trajectories.ok()) << trajectories.status();
    double value = -1.0;
    for (const db::IsotropyRow& row : trajectories->isotropy) {
      if (row.layer == db::IsotropyRow::kUnionLayer) value = row.isoscore;
    }
    return value;
  }

  static fs::path* root_;
  static int counter_;
};

fs::path* TrainerTest::root_ = nullptr;
int TrainerTest::counter_ = 0;

TEST_F(TrainerTest, LearnsDemoSentimentWellAboveChance) {
  const sweeps::TrialSpec trial = Trial("baseline");
  const std::string db = Path("db");
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
  EXPECT_GE(result->final_metrics.at("accuracy"), 0.8);
  EXPECT_EQ(result->steps, 3 * 20);

  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok());
  auto record = (*store)->GetTrial(trial.id);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status, db::TrialStatus::kDone);
  // The task's metric and the final isotropy measures (final_measures_test.cc checks their values).
  std::set<std::string> final_names;
  for (const db::FinalResult& row : record->final_results) final_names.insert(row.name);
  EXPECT_EQ(final_names,
            (std::set<std::string>{"accuracy", "avg_cosine_last_layer", "cls_isoscore_star",
                                   "cls_isoscore_star_layer_1", "cls_isoscore_star_layer_2",
                                   "cls_twonn", "token_isoscore"}));
  auto trajectories = (*store)->ExportTrajectories(trial.id);
  ASSERT_TRUE(trajectories.ok());
  EXPECT_FALSE(trajectories->isotropy.empty());
  bool has_validation = false;
  bool has_lr = false;
  for (const db::MetricRow& row : trajectories->metrics) {
    has_validation |= row.split == "validation" && row.name == "accuracy";
    has_lr |= row.split == "train" && row.name == "lr";
  }
  EXPECT_TRUE(has_validation);
  EXPECT_TRUE(has_lr);
}

// The learning rate each logged step used (rows `lr` of split train), by step.
std::map<int64_t, double> LoggedLearningRates(const std::string& db_path,
                                              const std::string& trial_id) {
  std::map<int64_t, double> rates;
  auto store = db::Store::Open(db_path);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return rates;
  auto trajectories = (*store)->ExportTrajectories(trial_id);
  EXPECT_TRUE(trajectories.ok()) << trajectories.status();
  if (!trajectories.ok()) return rates;
  for (const db::MetricRow& row : trajectories->metrics) {
    if (row.split == "train" && row.name == "lr") rates[row.step] = row.value;
  }
  return rates;
}

// training.lr_schedule reaches the optimizer: with `constant` and no warmup (the published
// protocol, here also without clipping) every step trains at the grid's rate; the default decays
// linearly from it, (T - s) / T, over the T = 20 steps of one epoch.
TEST_F(TrainerTest, TheScheduleOfTheTrainingSectionSetsEveryStepsLearningRate) {
  const std::string db = Path("db");
  const sweeps::TrialSpec constant =
      Trial("baseline", 2e-3, 1, "sst2", "  lr_schedule: constant\n  max_grad_norm: off\n");
  const sweeps::TrialSpec linear = Trial("baseline", 2e-3, 1);
  for (const sweeps::TrialSpec* trial : {&constant, &linear}) {
    absl::StatusOr<TrialResult> result = RunTrial(*trial, {.db_path = db, .progress = false});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
    ASSERT_EQ(result->steps, 20);
  }
  const std::map<int64_t, double> constant_rates = LoggedLearningRates(db, constant.id);
  ASSERT_GE(constant_rates.size(), 2u);  // steps 0, 10 and the epoch's last, 19
  for (const auto& [step, rate] : constant_rates) EXPECT_EQ(rate, 2e-3) << "step " << step;
  const std::map<int64_t, double> linear_rates = LoggedLearningRates(db, linear.id);
  ASSERT_GE(linear_rates.size(), 2u);
  for (const auto& [step, rate] : linear_rates) {
    EXPECT_DOUBLE_EQ(rate, 2e-3 * static_cast<double>(20 - step) / 20.0) << "step " << step;
  }
}

TEST_F(TrainerTest, NegativeIStarLambdaLowersIsotropyAndPositiveRaisesIt) {
  const std::string db = Path("db");
  const sweeps::TrialSpec baseline = Trial("baseline", 2e-3, 2);
  const sweeps::TrialSpec lower = Trial("istar: {lambda: [-2], zeta: [0.2]}", 2e-3, 2);
  const sweeps::TrialSpec higher = Trial("istar: {lambda: [2], zeta: [0.2]}", 2e-3, 2);
  for (const sweeps::TrialSpec* trial : {&baseline, &lower, &higher}) {
    absl::StatusOr<TrialResult> result = RunTrial(*trial, {.db_path = db, .progress = false});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  }
  const double base = FinalUnionIsoScore(db, baseline.id);
  EXPECT_LT(FinalUnionIsoScore(db, lower.id), base);
  EXPECT_GT(FinalUnionIsoScore(db, higher.id), base);

  // The rows support the comparison table: one row (tiny, sst2), baseline and istar columns.
  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<db::ComparisonTable> table = (*store)->Compare();
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows.size(), 1u);
  EXPECT_EQ(table->rows[0].metric, "accuracy");
  EXPECT_EQ(table->regularizers.size(), 2u);
}

TEST_F(TrainerTest, ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne) {
  const sweeps::TrialSpec trial = Trial("istar: {lambda: [-1], zeta: [0.2]}", 2e-3, 2);
  const FinishedRun full = RunToTheEnd(trial, Path("db"), Path("ckpt"));
  ASSERT_FALSE(full.weights.empty());

  const std::string resumed = Path("ckpt");
  const std::string db = Path("db");
  const fs::path first_epoch = fs::path(resumed) / trial.id / "epoch-1";
  absl::StatusOr<TrialResult> stopped = RunTrial(
      trial, {.db_path = db, .checkpoint_dir = resumed, .progress = false, .should_stop = [&] {
                return fs::exists(first_epoch);
              }});
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_EQ(stopped->status, TrialOutcome::kStopped);
  EXPECT_EQ(stopped->steps, 20);
  const FinishedRun rest = RunToTheEnd(trial, db, resumed);
  EXPECT_EQ(rest.result.steps, full.result.steps);
  EXPECT_TRUE(rest.weights == full.weights) << "the resumed run's final weights differ";
  EXPECT_EQ(rest.result.final_metrics, full.result.final_metrics);
}

// Note [Preemption checkpoints] in trainer/internal/checkpoint.cc: stopped inside the second
// epoch, the run saves step-30/ with that epoch's S0s; the next run takes the epoch's batches from
// there with the saved S0s and ends with the weights of an uninterrupted run, bit for bit, having
// logged the same isotropy rows (each layer's IsoScore* uses the epoch's saved per-layer S0).
TEST_F(TrainerTest, PreemptedMidEpochResumesInsideTheEpochWithTheSameWeights) {
  const sweeps::TrialSpec trial = Trial("istar: {lambda: [-1], zeta: [0.2]}", 2e-3, 2);
  const std::string full_db = Path("db");
  const FinishedRun full = RunToTheEnd(trial, full_db, Path("ckpt"));
  ASSERT_FALSE(full.weights.empty());

  // Without checkpoint_on_stop a stop leaves only the epoch checkpoints.
  const std::string unsaved = Path("ckpt");
  int calls = 0;
  absl::StatusOr<TrialResult> dropped = RunTrial(
      trial, {.db_path = Path("db"), .checkpoint_dir = unsaved, .progress = false,
              .should_stop = [&] { return ++calls > 30; }});
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_EQ(dropped->status, TrialOutcome::kStopped);
  EXPECT_FALSE(fs::exists(fs::path(unsaved) / trial.id / "step-30"));

  const std::string resumed = Path("ckpt");
  const std::string db = Path("db");
  calls = 0;
  absl::StatusOr<TrialResult> stopped = RunTrial(
      trial, {.db_path = db, .checkpoint_dir = resumed, .progress = false,
              .should_stop = [&] { return ++calls > 30; },
              .checkpoint_on_stop = [] { return true; }});
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_EQ(stopped->status, TrialOutcome::kStopped);
  EXPECT_EQ(stopped->steps, 30);
  const fs::path preempted = fs::path(resumed) / trial.id / "step-30";
  EXPECT_TRUE(fs::exists(preempted / "state.json"));
  EXPECT_TRUE(fs::exists(preempted / "shrinkage.pt"));

  const FinishedRun rest = RunToTheEnd(trial, db, resumed);
  EXPECT_EQ(rest.result.steps, full.result.steps);
  EXPECT_FALSE(fs::exists(preempted)) << "superseded by epoch-2";
  EXPECT_TRUE(rest.weights == full.weights) << "the resumed run's final weights differ";
  EXPECT_EQ(rest.result.final_metrics, full.result.final_metrics);
  const auto isotropy = [&](const std::string& path) {
    auto store = db::Store::Open(path);
    EXPECT_TRUE(store.ok()) << store.status();
    auto trajectories = (*store)->ExportTrajectories(trial.id);
    EXPECT_TRUE(trajectories.ok()) << trajectories.status();
    std::vector<std::tuple<int64_t, int64_t, double, double, double>> rows;
    for (const db::IsotropyRow& row : trajectories->isotropy) {
      rows.emplace_back(row.step, row.layer, row.isoscore_star, row.isoscore, row.avg_cosine);
    }
    return rows;
  };
  const auto full_rows = isotropy(full_db);
  EXPECT_FALSE(full_rows.empty());
  EXPECT_EQ(isotropy(db), full_rows) << "the resumed run logged other isotropy rows";
}

// The same on a GPU (skipped without one): dropout there draws from the GPU's generator, whose
// state the preemption checkpoint saves and the resumed run restores (Note [Generators of a worker
// group]); without it the resumed run's weights differ.
TEST_F(TrainerTest, GpuRunPreemptedMidEpochResumesWithTheSameWeights) {
  absl::StatusOr<RankLaunch> here = ReadRankLaunch();
  ASSERT_TRUE(here.ok());
  if (here->visible_gpus == 0) GTEST_SKIP() << "needs a GPU; this LibTorch sees none";
  const sweeps::TrialSpec trial = Trial("istar: {lambda: [-1], zeta: [0.2]}", 2e-3, 2);
  const auto run = [&](const std::string& db, const std::string& ckpt, int stop_after) {
    int calls = 0;
    return RunTrial(trial, {.db_path = db,
                            .checkpoint_dir = ckpt,
                            .progress = false,
                            .should_stop = [&] { return stop_after > 0 && ++calls > stop_after; },
                            .checkpoint_on_stop = [] { return true; },
                            .device = "cuda:0"});
  };
  const std::string full_ckpt = Path("ckpt");
  absl::StatusOr<TrialResult> full = run(Path("db"), full_ckpt, 0);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->status, TrialOutcome::kDone);
  const std::string ckpt = Path("ckpt");
  const std::string db = Path("db");
  absl::StatusOr<TrialResult> stopped = run(db, ckpt, 30);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_EQ(stopped->status, TrialOutcome::kStopped);
  absl::StatusOr<TrialResult> rest = run(db, ckpt, 0);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->status, TrialOutcome::kDone);
  const auto weights = [&](const std::string& dir) {
    return ReadFile(fs::path(dir) / trial.id / "epoch-2" / "model.safetensors");
  };
  EXPECT_FALSE(weights(full_ckpt).empty());
  EXPECT_TRUE(weights(ckpt) == weights(full_ckpt)) << "the resumed GPU run's final weights differ";
}

TEST_F(TrainerTest, SquadTrainsAndReportsExactMatchAndF1) {
  const sweeps::TrialSpec trial = Trial("istar: {lambda: [-0.001], zeta: [0.2]}", 2e-3, 2, "squad");
  const std::string db = Path("db");
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  ASSERT_TRUE(result->final_metrics.contains("f1"));
  ASSERT_TRUE(result->final_metrics.contains("exact_match"));
  // Percentages; 40 steps of a tiny random model find some answers (25.1 with this seed).
  EXPECT_GT(result->final_metrics.at("f1"), 10.0);
  EXPECT_LE(result->final_metrics.at("f1"), 100.0);
}

TEST_F(TrainerTest, Float64OptionTrainsAndCheckpointsInFloat64) {
  const sweeps::TrialSpec trial = Trial("cosreg: {lambda: [0.001]}", 2e-3, 1);
  const std::string checkpoints = Path("ckpt");
  absl::StatusOr<TrialResult> result = RunTrial(
      trial,
      {.db_path = Path("db"), .checkpoint_dir = checkpoints, .progress = false, .float64 = true});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  const std::string weights =
      ReadFile(fs::path(checkpoints) / trial.id / "epoch-1" / "model.safetensors");
  EXPECT_NE(weights.find("\"F64\""), std::string::npos);
  EXPECT_EQ(weights.find("\"F32\""), std::string::npos);
}

TEST_F(TrainerTest, DivergingRunEndsFailedWithDivergedError) {
  const sweeps::TrialSpec trial = Trial("baseline", 1e6, 1);
  const std::string db = Path("db");
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, TrialOutcome::kFailed);
  EXPECT_THAT(result->error, ::testing::StartsWith("diverged: "));
  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok());
  auto record = (*store)->GetTrial(trial.id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->status, db::TrialStatus::kFailed);
  EXPECT_THAT(record->error.value_or(""), ::testing::StartsWith("diverged: "));
}

TEST_F(TrainerTest, RejectsPrecisionOtherThanFp32WithoutMarkingTheTrial) {
  sweeps::TrialSpec trial = Trial("baseline");
  trial.training.precision = "bf16";
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = Path("db"), .progress = false});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("fp32"));
}

TEST_F(TrainerTest, DoneTrialIsNotRunAgain) {
  const sweeps::TrialSpec trial = Trial("baseline", 2e-3, 1);
  const std::string db = Path("db");
  ASSERT_TRUE(RunTrial(trial, {.db_path = db, .progress = false}).ok());
  absl::StatusOr<TrialResult> again = RunTrial(trial, {.db_path = db, .progress = false});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace istar::trainer
