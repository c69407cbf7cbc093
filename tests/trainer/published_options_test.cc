// The training options that reproduce the published I-STAR code's behaviour (docs/training.md,
// "Options for the published behaviour"): `last` among the regularizer's layers, padding in the
// point cloud, the per-rank isotropy scope with one rank, token type ids off, and SQuAD's
// doc_stride. References are computed here directly (loops over the tensors, the context
// windows' byte ranges, IsoScore* from regularizers/isotropy.h).
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/store.h"
#include "models/config.h"
#include "regularizers/isotropy.h"
#include "sweeps/sweep.h"
#include "tasks/task.h"
#include "tests/trainer/tiny_bert_folder.h"
#include "tokenizers/tokenizer.h"
#include "trainer/internal/trial_data.h"
#include "trainer/loss.h"
#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

TEST(ResolveLayers, LastLayerIsTheModelsLastLayer) {
  const std::vector<int64_t> last = {sweeps::kLastLayer};
  EXPECT_THAT(*ResolveLayers(6, last), ElementsAre(6));
  EXPECT_THAT(*ResolveLayers(12, last), ElementsAre(12));
  const std::vector<int64_t> first_and_last = {1, sweeps::kLastLayer};
  EXPECT_THAT(*ResolveLayers(12, first_and_last), ElementsAre(1, 12));
  EXPECT_THAT(*ResolveLayers(6, first_and_last), ElementsAre(1, 6));
}

TEST(ResolveLayers, LastLayerNamedTwiceCollapsesToOneLayer) {
  const std::vector<int64_t> twice = {12, sweeps::kLastLayer, 3, sweeps::kLastLayer};
  EXPECT_THAT(*ResolveLayers(12, twice), ElementsAre(3, 12));
  // Another negative number is no stand-in.
  const std::vector<int64_t> minus_two = {-2};
  EXPECT_EQ(ResolveLayers(12, minus_two).status().code(), absl::StatusCode::kInvalidArgument);
}

// hidden_states of 3 entries (embedding output, layers 1 and 2), [B=3, T=4, H=2], random, and a
// mask with padding in two of the three rows.
struct PaddedBatch {
  std::vector<at::Tensor> hidden;
  at::Tensor mask;
};

PaddedBatch MakePaddedBatch() {
  at::manual_seed(11);
  PaddedBatch b;
  for (int layer = 0; layer < 3; ++layer) b.hidden.push_back(at::randn({3, 4, 2}, at::kDouble));
  b.mask = at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}).reshape({3, 4});
  return b;
}

TEST(GatherPoints, IncludeTakesEveryPositionOfThePaddedBatch) {
  const PaddedBatch b = MakePaddedBatch();
  const std::vector<int64_t> layers = {1, 2};
  const PointCloud cloud =
      GatherPoints(b.hidden, b.mask, layers, sweeps::PointCloudPadding::kInclude);
  EXPECT_EQ(cloud.tokens, 3 * 4);
  ASSERT_EQ(cloud.points.sizes(), (std::vector<int64_t>{3 * 4 * 2, 2}));
  EXPECT_EQ(cloud.sequences, 3);
  for (int64_t k = 0; k < 2; ++k) {
    for (int64_t s = 0; s < 3; ++s) {
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t row = k * 12 + s * 4 + t;
        EXPECT_TRUE(at::equal(cloud.points[row], b.hidden[layers[k]][s][t])) << row;
        if (k == 0) {
          EXPECT_EQ(cloud.sequence[row].item<int64_t>(), s) << row;
        }
      }
    }
  }
}

TEST(GatherPoints, ExcludeTakesTheRealTokensOnly) {
  const PaddedBatch b = MakePaddedBatch();
  const std::vector<int64_t> layers = {2};
  const PointCloud cloud =
      GatherPoints(b.hidden, b.mask, layers, sweeps::PointCloudPadding::kExclude);
  std::vector<at::Tensor> expected;
  std::vector<int64_t> sequence;
  for (int64_t s = 0; s < 3; ++s) {
    for (int64_t t = 0; t < 4; ++t) {
      if (b.mask[s][t].item<int64_t>() == 0) continue;
      expected.push_back(b.hidden[2][s][t]);
      sequence.push_back(s);
    }
  }
  EXPECT_EQ(cloud.tokens, 9);
  EXPECT_TRUE(at::equal(cloud.points, at::stack(expected)));
  EXPECT_TRUE(at::equal(cloud.sequence, at::tensor(sequence)));
}

// With one process the per-rank scope is the global one: lambda * (1 - IsoScore*) of the cloud.
TEST(ComputeStepLoss, PerRankScopeOfOneProcessIsTheTermOfTheWholeCloud) {
  at::manual_seed(5);
  const PointCloud cloud{.points = at::randn({20, 6}, at::kDouble), .tokens = 20, .layers = {1}};
  const at::Tensor task_sum = at::tensor(3.0, at::kDouble);
  const double iso = regularizers::IsoScoreStar(cloud.points, {})->item<double>();
  for (const sweeps::IsotropyScope scope :
       {sweeps::IsotropyScope::kGlobal, sweeps::IsotropyScope::kPerRank}) {
    absl::StatusOr<StepLoss> loss =
        ComputeStepLoss(task_sum, 4, cloud, {.name = "istar", .lambda = -0.5, .scope = scope});
    ASSERT_TRUE(loss.ok()) << loss.status();
    EXPECT_NEAR(loss->regularizer.item<double>(), -0.5 * (1.0 - iso), 1e-12);
    EXPECT_NEAR(loss->total.item<double>(), 0.75 - 0.5 * (1.0 - iso), 1e-12);
  }
}

// ---------------------------------------------------------------------------------------------
// Trials and features on the demo data: a tiny BERT folder, demo SST-2, MRPC and SQuAD.

class PublishedOptionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         absl::StrCat("istar_published_options_test_", ::getpid()));
    ASSERT_TRUE(tasks::WriteDemoSentimentTask((*root_ / "sst2").string(),
                                              {.seed = 5, .train_examples = 64, .dev_examples = 32})
                    .ok());
    ASSERT_TRUE(tasks::WriteDemoGlueTask(tasks::Task::kMrpc, (*root_ / "mrpc").string(),
                                         {.seed = 5, .train_examples = 40, .dev_examples = 20})
                    .ok());
    ASSERT_TRUE(tasks::WriteDemoQaTask((*root_ / "squad").string(),
                                       {.seed = 5, .train_examples = 20, .dev_examples = 10})
                    .ok());
    ASSERT_NO_FATAL_FAILURE(WriteTinyBertFolder(*root_ / "model"));
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete root_;
  }

  // The one trial of a sweep of `task` with regularizer entry `regularizer`, batch 16, 1 epoch.
  static sweeps::TrialSpec Trial(const std::string& task, const std::string& regularizer) {
    const std::string yaml = absl::StrCat(
        "name: published\nmodels:\n  tiny: ", (*root_ / "model").string(), "\ntasks:\n  ", task,
        ": ", (*root_ / task).string(),
        "\ntraining:\n  max_seq_length: 32\n  isotropy_every_steps: 1\n"
        "  shrinkage_points: 300\n",
        "grid:\n  batch_size: [16]\n  epochs: [1]\n  learning_rate: [2e-3]\n  seed: [1]\n"
        "  regularizers:\n    - ",
        regularizer, "\n");
    absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "published.yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep->trials.at(0);
  }

  // Runs `trial` to its end in a fresh store and returns the store's trajectories.
  static db::Trajectories Run(const sweeps::TrialSpec& trial) {
    const std::string db = (*root_ / absl::StrCat("run_", counter_++, ".db")).string();
    absl::StatusOr<TrialResult> result = RunTrial(trial, {.db_path = db, .progress = false});
    EXPECT_TRUE(result.ok()) << result.status();
    if (result.ok()) {
      EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
    }
    auto store = db::Store::Open(db, {.mode = db::OpenMode::kReadOnly});
    EXPECT_TRUE(store.ok()) << store.status();
    auto trajectories = (*store)->ExportTrajectories(trial.id);
    EXPECT_TRUE(trajectories.ok()) << trajectories.status();
    return *std::move(trajectories);
  }

  static absl::StatusOr<internal::TrialData> Load(const sweeps::TrialSpec& trial,
                                                  tasks::Task task) {
    absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
        tokenizers::LoadTokenizerFromFolder((*root_ / "model").string());
    if (!tokenizer.ok()) return tokenizer.status();
    tokenizer_ = std::shared_ptr<tokenizers::Tokenizer>(*std::move(tokenizer));
    return internal::TrialData::Load(trial, task, *tokenizer_);
  }

  static fs::path* root_;
  static int counter_;
  static std::shared_ptr<tokenizers::Tokenizer> tokenizer_;
};

fs::path* PublishedOptionsTest::root_ = nullptr;
int PublishedOptionsTest::counter_ = 0;
std::shared_ptr<tokenizers::Tokenizer> PublishedOptionsTest::tokenizer_;

TEST_F(PublishedOptionsTest, PerRankScopeOfOneProcessLogsTheSameLosses) {
  sweeps::TrialSpec global = Trial("sst2", "istar: {lambda: [-0.5], zeta: [0.3]}");
  sweeps::TrialSpec per_rank = global;
  per_rank.training.isotropy_scope = sweeps::IsotropyScope::kPerRank;
  const db::Trajectories expected = Run(global);
  const db::Trajectories got = Run(per_rank);
  ASSERT_EQ(got.metrics.size(), expected.metrics.size());
  int regularizer_rows = 0;
  for (size_t k = 0; k < expected.metrics.size(); ++k) {
    const db::MetricRow& e = expected.metrics[k];
    const db::MetricRow& g = got.metrics[k];
    ASSERT_EQ(std::tie(g.step, g.split, g.name), std::tie(e.step, e.split, e.name));
    EXPECT_EQ(g.value, e.value) << e.split << " " << e.name << " at step " << e.step;
    if (e.name == "regularizer") {
      ++regularizer_rows;
      EXPECT_NE(e.value, 0.0);
    }
  }
  EXPECT_EQ(regularizer_rows, 4);  // 64 examples in batches of 16
}

// Padding in the cloud changes what the regularizer and the logged measures see (S0 under a
// binding budget included), and the trial still runs to its end.
TEST_F(PublishedOptionsTest, IncludedPaddingChangesTheCloudOfTheTrial) {
  sweeps::TrialSpec exclude = Trial("sst2", "istar: {lambda: [-0.5], zeta: [0.3]}");
  sweeps::TrialSpec include = exclude;
  include.training.point_cloud_padding = sweeps::PointCloudPadding::kInclude;
  const db::Trajectories a = Run(exclude);
  const db::Trajectories b = Run(include);
  ASSERT_EQ(a.isotropy.size(), b.isotropy.size());
  ASSERT_FALSE(a.isotropy.empty());
  int differing = 0;
  for (size_t k = 0; k < a.isotropy.size(); ++k) {
    if (a.isotropy[k].isoscore != b.isotropy[k].isoscore) ++differing;
  }
  EXPECT_GT(differing, 0);
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (size_t k = 0; k < a.metrics.size(); ++k) {
    if (a.metrics[k].name == "regularizer" && a.metrics[k].step == 0) {
      EXPECT_NE(a.metrics[k].value, b.metrics[k].value);
    }
  }
}

TEST_F(PublishedOptionsTest, SentencePairsWithoutSegmentIdsHaveOnlyZeroTokenTypes) {
  sweeps::TrialSpec trial = Trial("mrpc", "baseline");
  const int32_t sep = 3;  // WriteDemoVocab: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3
  {
    absl::StatusOr<internal::TrialData> data = Load(trial, tasks::Task::kMrpc);
    ASSERT_TRUE(data.ok()) << data.status();
    ASSERT_EQ(tokenizer_->sep_id(), sep);
    int ones = 0;
    for (const tasks::Feature& f : data->train_features()) {
      // 0 up to and including the first [SEP], 1 after it.
      size_t first_sep = 0;
      while (f.input_ids[first_sep] != sep) ++first_sep;
      ASSERT_EQ(f.token_type_ids.size(), f.input_ids.size());
      for (size_t t = 0; t < f.token_type_ids.size(); ++t) {
        EXPECT_EQ(f.token_type_ids[t], t > first_sep ? 1 : 0);
        ones += f.token_type_ids[t];
      }
    }
    EXPECT_GT(ones, 0);
  }
  trial.training.segment_ids = false;
  absl::StatusOr<internal::TrialData> data = Load(trial, tasks::Task::kMrpc);
  ASSERT_TRUE(data.ok()) << data.status();
  std::vector<const tasks::Feature*> all;
  for (const tasks::Feature& f : data->train_features()) all.push_back(&f);
  for (const internal::EvalSplit& split : data->eval_splits()) {
    for (const tasks::Feature& f : split.features) all.push_back(&f);
  }
  ASSERT_GT(all.size(), 40u);
  for (const tasks::Feature* f : all) {
    EXPECT_EQ(f->token_type_ids.size(), f->input_ids.size());
    for (int32_t type : f->token_type_ids) EXPECT_EQ(type, 0);
  }
}

// The context tokens that consecutive windows of one example share: doc_stride of them (each
// window starts doc_stride tokens before the previous one ends), counted by their byte ranges.
std::vector<int64_t> Overlaps(const std::vector<tasks::Feature>& features) {
  std::vector<int64_t> overlaps;
  for (size_t k = 1; k < features.size(); ++k) {
    if (features[k].example_index != features[k - 1].example_index) continue;
    std::set<std::pair<int64_t, int64_t>> before;
    for (const auto& range : features[k - 1].context_offsets) {
      if (range.first >= 0) before.insert(range);
    }
    int64_t shared = 0;
    for (const auto& range : features[k].context_offsets) {
      if (range.first >= 0 && before.contains(range)) ++shared;
    }
    overlaps.push_back(shared);
  }
  return overlaps;
}

TEST_F(PublishedOptionsTest, DocStrideSetsTheOverlapOfSquadWindows) {
  sweeps::TrialSpec trial = Trial("squad", "baseline");
  absl::StatusOr<internal::TrialData> data = Load(trial, tasks::Task::kSquad);
  ASSERT_TRUE(data.ok()) << data.status();
  const size_t default_features = data->train_features().size();
  const std::vector<int64_t> by_default = Overlaps(data->train_features());
  ASSERT_FALSE(by_default.empty()) << "no example of the demo data spans several windows";
  for (int64_t shared : by_default) EXPECT_EQ(shared, 32 / 3);  // min(128, max_seq_length / 3)

  trial.training.doc_stride = 4;
  data = Load(trial, tasks::Task::kSquad);
  ASSERT_TRUE(data.ok()) << data.status();
  const std::vector<int64_t> strided = Overlaps(data->train_features());
  ASSERT_FALSE(strided.empty());
  for (int64_t shared : strided) EXPECT_EQ(shared, 4);
  // A smaller overlap needs no more windows for the same contexts.
  EXPECT_LE(data->train_features().size(), default_features);
  for (const tasks::Feature& f : data->eval_splits().at(0).features) {
    EXPECT_LE(f.input_ids.size(), 32u);
  }
  EXPECT_THAT(Overlaps(data->eval_splits().at(0).features), ::testing::Each(4));
}

}  // namespace
}  // namespace istar::trainer
