// training.selection end to end: the trial's data gets the dev set's two parts (cut by the
// selection seed only; SQuAD by question, with every window), a trial writes them as the splits
// "selection" and "report", and `istar compare`'s Store::Compare chooses on one and reports the
// other from a store the trainer wrote.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/store.h"
#include "models/config.h"
#include "sweeps/sweep.h"
#include "tasks/task.h"
#include "tests/trainer/tiny_bert_folder.h"
#include "tokenizers/tokenizer.h"
#include "trainer/internal/trial_data.h"
#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;
using internal::EvalSplit;
using internal::TrialData;

constexpr sweeps::SelectionSplit kSelection{.fraction = 0.3, .seed = 7};

// A tiny BERT with the demo vocabulary, the demo sentiment task (200 dev sentences) and the demo
// QA task (40 dev questions), made once for the suite.
class SelectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new fs::path(fs::temp_directory_path() / absl::StrCat("istar_selection_test_", ::getpid()));
    ASSERT_TRUE(
        tasks::WriteDemoSentimentTask((*root_ / "sst2").string(),
                                      {.seed = 7, .train_examples = 640, .dev_examples = 200})
            .ok());
    ASSERT_TRUE(tasks::WriteDemoQaTask((*root_ / "squad").string(),
                                       {.seed = 7, .train_examples = 64, .dev_examples = 40})
                    .ok());
    ASSERT_NO_FATAL_FAILURE(WriteTinyBertFolder(*root_ / "model"));
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete root_;
  }

  // The trials of a baseline sweep of `task` over `rates` and `seeds`, one epoch, each with
  // training.selection = kSelection (set directly, as the sweep file's key would).
  static std::vector<sweeps::TrialSpec> Trials(const std::string& task, const std::string& rates,
                                               const std::string& seeds,
                                               int64_t max_seq_length = 32) {
    const std::string yaml = absl::StrCat(
        "name: selection\nmodels:\n  tiny: ", (*root_ / "model").string(), "\ntasks:\n  ", task,
        ": ", (*root_ / task).string(), "\ntraining:\n  max_seq_length: ", max_seq_length,
        "\n  isotropy_every_steps: 10\n  shrinkage_points: 4000\n",
        "grid:\n  batch_size: [32]\n  epochs: [1]\n  learning_rate: [", rates, "]\n  seed: [",
        seeds, "]\n  regularizers:\n    - baseline\n");
    absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "selection.yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    if (!sweep.ok()) return {};
    for (sweeps::TrialSpec& trial : sweep->trials) trial.training.selection = kSelection;
    return sweep->trials;
  }

  static TrialData Load(const sweeps::TrialSpec& trial) {
    auto tokenizer = tokenizers::LoadWordPieceVocab((*root_ / "model" / "vocab.txt").string());
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    absl::StatusOr<TrialData> data =
        TrialData::Load(trial, *tasks::ParseTask(trial.task), **tokenizer);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *std::move(data) : TrialData();
  }

  static std::string Path(const std::string& name) {
    return (*root_ / absl::StrCat(name, "_", counter_++)).string();
  }

  static fs::path* root_;
  static int counter_;
};

fs::path* SelectionTest::root_ = nullptr;
int SelectionTest::counter_ = 0;

// The file lines of a classification split's examples.
std::vector<int64_t> Lines(const EvalSplit& split) {
  std::vector<int64_t> lines;
  for (const tasks::ClassificationExample& example : split.data.classification) {
    lines.push_back(example.line);
  }
  return lines;
}

TEST_F(SelectionTest, DevSetIsCutIntoSelectionAndReportAfterValidation) {
  const TrialData data = Load(Trials("sst2", "2e-3", "1").at(0));
  ASSERT_EQ(data.eval_splits().size(), 3u);
  const EvalSplit& dev = data.eval_splits()[0];
  const EvalSplit& selection = data.eval_splits()[1];
  const EvalSplit& report = data.eval_splits()[2];
  EXPECT_EQ(dev.stored_name, "validation");
  EXPECT_EQ(selection.stored_name, "selection");
  EXPECT_EQ(report.stored_name, "report");
  ASSERT_EQ(dev.data.classification.size(), 200u);
  EXPECT_EQ(selection.data.classification.size(), 60u);  // round(0.3 * 200)
  EXPECT_EQ(report.data.classification.size(), 140u);
  std::vector<int64_t> both = Lines(selection);
  for (int64_t line : Lines(report)) both.push_back(line);
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, Lines(dev));  // disjoint, and together the whole split
  // One feature per example, with its label, pointing at its position in the part.
  ASSERT_EQ(selection.features.size(), 60u);
  for (size_t i = 0; i < selection.features.size(); ++i) {
    EXPECT_EQ(selection.features[i].example_index, static_cast<int64_t>(i));
    EXPECT_EQ(selection.features[i].label, selection.data.classification[i].label);
  }
}

TEST_F(SelectionTest, CutDependsOnTheSelectionSeedOnlyNotOnTheTrial) {
  const std::vector<sweeps::TrialSpec> trials = Trials("sst2", "2e-3, 1e-4", "1, 2");
  ASSERT_EQ(trials.size(), 4u);
  const std::vector<int64_t> first = Lines(Load(trials[0]).eval_splits()[1]);
  for (size_t t = 1; t < trials.size(); ++t) {
    EXPECT_EQ(Lines(Load(trials[t]).eval_splits()[1]), first) << "trial " << t;
  }
  // A longer max_seq_length changes the features, not the cut.
  EXPECT_EQ(Lines(Load(Trials("sst2", "2e-3", "3", 48).at(0)).eval_splits()[1]), first);
  sweeps::TrialSpec other_seed = trials[0];
  other_seed.training.selection->seed = 8;
  EXPECT_NE(Lines(Load(other_seed).eval_splits()[1]), first);
}

TEST_F(SelectionTest, SquadIsCutByQuestionKeepingEveryWindow) {
  // max_seq_length 32 leaves a few context tokens per window: contexts span several windows.
  const TrialData data = Load(Trials("squad", "2e-3", "1").at(0));
  ASSERT_EQ(data.eval_splits().size(), 3u);
  const EvalSplit& dev = data.eval_splits()[0];
  ASSERT_EQ(dev.data.squad.size(), 40u);
  ASSERT_GT(dev.features.size(), dev.data.squad.size()) << "the test needs multi-window examples";
  // Windows per question id in the whole split.
  std::map<std::string, int64_t> windows;
  for (const tasks::Feature& f : dev.features)
    ++windows[dev.data.squad.at(static_cast<size_t>(f.example_index)).id];
  std::set<std::string> seen;
  size_t features = 0;
  for (const EvalSplit* part : {&data.eval_splits()[1], &data.eval_splits()[2]}) {
    std::map<std::string, int64_t> part_windows;
    for (const tasks::Feature& f : part->features) {
      ++part_windows[part->data.squad.at(static_cast<size_t>(f.example_index)).id];
    }
    for (const tasks::SquadExample& example : part->data.squad) {
      EXPECT_TRUE(seen.insert(example.id).second) << example.id << " is in both parts";
      EXPECT_EQ(part_windows[example.id], windows.at(example.id)) << example.id;
    }
    features += part->features.size();
  }
  EXPECT_EQ(data.eval_splits()[1].data.squad.size(), 12u);  // round(0.3 * 40)
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(features, dev.features.size());
}

// The final_results of a trial, as split -> metric -> value.
std::map<std::string, std::map<std::string, double>> FinalResults(db::Store& store,
                                                                  const std::string& trial_id) {
  std::map<std::string, std::map<std::string, double>> results;
  auto record = store.GetTrial(trial_id);
  EXPECT_TRUE(record.ok()) << record.status();
  if (!record.ok()) return results;
  for (const db::FinalResult& row : record->final_results) results[row.split][row.name] = row.value;
  return results;
}

// The parts' accuracies, weighted by their sizes (60 and 140 of 200), give the whole split's:
// an independent check that both parts were scored on the same model as "validation".
TEST_F(SelectionTest, TrialWritesBothPartsWhoseWeightedAccuraciesGiveValidations) {
  const sweeps::TrialSpec trial = Trials("sst2", "2e-3", "1").at(0);
  const std::string db = Path("db");
  absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto results = FinalResults(**store, trial.id);
  ASSERT_EQ(results.size(), 3u);
  const double validation = results.at("validation").at("accuracy");
  const double selection = results.at("selection").at("accuracy");
  const double report = results.at("report").at("accuracy");
  EXPECT_NEAR((60 * selection + 140 * report) / 200, validation, 1e-12);
  EXPECT_EQ(result->final_metrics.at("accuracy"), validation);  // still the whole split's
  // Each evaluation also wrote metric rows for both parts, at the same step as validation's.
  auto trajectories = (*store)->ExportTrajectories(trial.id);
  ASSERT_TRUE(trajectories.ok()) << trajectories.status();
  std::map<std::string, std::set<int64_t>> steps;
  for (const db::MetricRow& row : trajectories->metrics) {
    if (row.name == "accuracy") steps[row.split].insert(row.step);
  }
  EXPECT_FALSE(steps["validation"].empty());
  EXPECT_EQ(steps["selection"], steps["validation"]);
  EXPECT_EQ(steps["report"], steps["validation"]);
}

// `istar compare --select-on selection --split report` on a store the trainer wrote: the cell is
// the group best on "selection", and shows its "report" score.
TEST_F(SelectionTest, CompareChoosesOnSelectionAndReportsReportFromTrainerRows) {
  const std::vector<sweeps::TrialSpec> trials = Trials("sst2", "2e-3, 1e-5", "1");
  ASSERT_EQ(trials.size(), 2u);
  const std::string db = Path("db");
  for (const sweeps::TrialSpec& trial : trials) {
    absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  }
  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok()) << store.status();
  // Expected by hand from the rows: the higher selection accuracy wins; a tie goes to the
  // smaller learning rate (docs/database.md, "Choice").
  const auto a = FinalResults(**store, trials[0].id);  // lr 2e-3
  const auto b = FinalResults(**store, trials[1].id);  // lr 1e-5
  const bool a_wins = a.at("selection").at("accuracy") > b.at("selection").at("accuracy");
  const auto& chosen = a_wins ? a : b;
  absl::StatusOr<db::ComparisonTable> table =
      (*store)->Compare({.metric = "accuracy", .split = "report", .selection_split = "selection"});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->split, "report");
  EXPECT_EQ(table->selection_split, "selection");
  ASSERT_EQ(table->rows.size(), 1u);
  ASSERT_EQ(table->rows[0].cells.size(), 1u);
  ASSERT_TRUE(table->rows[0].cells[0].has_value());
  const db::ComparisonCell& cell = *table->rows[0].cells[0];
  EXPECT_EQ(cell.groups, 2);
  EXPECT_DOUBLE_EQ(cell.chosen.learning_rate, a_wins ? 2e-3 : 1e-5);
  EXPECT_DOUBLE_EQ(cell.mean, chosen.at("report").at("accuracy"));
  EXPECT_DOUBLE_EQ(cell.selection_mean, chosen.at("selection").at("accuracy"));
}

}  // namespace
}  // namespace istar::trainer
