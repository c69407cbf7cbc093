// The isotropy rows every trial logs (docs/database.md, "isotropy"; Note [Comparable isotropy
// rows] in trainer/internal/trial_log.cc): every layer and the all-layer union, IsoScore* at
// training.evaluation_zeta with each layer's own S0, recomputed here from the model's weights
// (learning rate 0, no dropout: the weights never move) with the covariance and IsoScore* written
// out directly.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/store.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "regularizers/isotropy.h"
#include "sweeps/sweep.h"
#include "tasks/adapter.h"
#include "tasks/task.h"
#include "tests/trainer/tiny_bert_folder.h"
#include "trainer/internal/batches.h"
#include "trainer/internal/checkpoint.h"
#include "trainer/internal/evaluate.h"
#include "trainer/internal/task_head.h"
#include "trainer/internal/trial_data.h"
#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kLayers = 3;
constexpr int64_t kBatchSize = 32;
constexpr int64_t kShrinkagePoints = 600;  // binds: the 96 examples hold more tokens
constexpr double kEvaluationZeta = 0.75;

// The sample covariance of the rows of `x` ([N, H], float64), written out.
at::Tensor Covariance(const at::Tensor& x) {
  const at::Tensor centred = x - x.mean(0, /*keepdim=*/true);
  return at::matmul(centred.t(), centred) / static_cast<double>(x.size(0) - 1);
}

// IsoScore* of a covariance in closed form, (tr(S)^2 / ||S||_F^2 - 1) / (H - 1) (docs/isotropy.md).
double IsoScoreOf(const at::Tensor& s) {
  const double trace = s.trace().item<double>();
  const double frobenius2 = (s * s).sum().item<double>();
  return (trace * trace / frobenius2 - 1.0) / static_cast<double>(s.size(0) - 1);
}

// The mean cosine over ordered pairs of distinct rows.
double AverageCosine(const at::Tensor& x) {
  const at::Tensor u = x / x.norm(2, {1}, /*keepdim=*/true);
  const at::Tensor gram = at::matmul(u, u.t());
  const auto n = static_cast<double>(x.size(0));
  return ((gram.sum() - gram.trace()) / (n * (n - 1.0))).item<double>();
}

// A tiny BERT of 3 layers without dropout, and 96 demo sentiment examples, made once.
class IsotropyLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         absl::StrCat("istar_isotropy_log_test_", ::getpid()));
    ASSERT_TRUE(tasks::WriteDemoSentimentTask((*root_ / "sst2").string(),
                                              {.seed = 7, .train_examples = 96, .dev_examples = 32})
                    .ok());
    ASSERT_NO_FATAL_FAILURE(WriteTinyBertFolder(*root_ / "model", [](models::ModelConfig& c) {
      c.num_hidden_layers = kLayers;
      c.hidden_dropout_prob = 0.0;
      c.attention_probs_dropout_prob = 0.0;
      c.classifier_dropout = 0.0;
    }));
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete root_;
  }

  // The trial of `regularizer` with learning rate 0 (which a sweep file cannot say: set on the
  // parsed trial), every step logged; `training` adds lines to the training section.
  static sweeps::TrialSpec Trial(const std::string& regularizer, int64_t epochs,
                                 const std::string& training = "", int64_t every = 1) {
    const std::string yaml = absl::StrCat(
        "name: test\nmodels:\n  tiny: ", (*root_ / "model").string(),
        "\ntasks:\n  sst2: ", (*root_ / "sst2").string(),
        "\ntraining:\n  max_seq_length: 32\n  isotropy_every_steps: ", every,
        "\n  shrinkage_points: ", kShrinkagePoints, "\n  evaluation_zeta: ", kEvaluationZeta, "\n",
        training, "grid:\n  batch_size: [", kBatchSize, "]\n  epochs: [", epochs,
        "]\n  learning_rate: [0.001]\n  seed: [3]\n  regularizers:\n    - ", regularizer, "\n");
    absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "test.yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    sweeps::TrialSpec trial = sweep->trials.at(0);
    trial.learning_rate = 0.0;
    return trial;
  }

  static std::string Path(const std::string& name) {
    return (*root_ / absl::StrCat(name, "_", counter_++)).string();
  }

  // Runs `trial` in float64 to its end (checkpoints in `checkpoints`) and returns its isotropy
  // rows.
  static std::vector<db::IsotropyRow> RunAndReadRows(const sweeps::TrialSpec& trial,
                                                     const std::string& checkpoints) {
    const std::string db = Path("db");
    absl::StatusOr<TrialResult> result = RunTrial(
        trial, {.db_path = db, .checkpoint_dir = checkpoints, .progress = false, .float64 = true});
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    EXPECT_EQ(result->status, TrialOutcome::kDone) << result->error;
    auto store = db::Store::Open(db);
    EXPECT_TRUE(store.ok()) << store.status();
    auto trajectories = (*store)->ExportTrajectories(trial.id);
    EXPECT_TRUE(trajectories.ok()) << trajectories.status();
    return trajectories.ok() ? trajectories->isotropy : std::vector<db::IsotropyRow>{};
  }

  static fs::path* root_;
  static int counter_;
};

fs::path* IsotropyLogTest::root_ = nullptr;
int IsotropyLogTest::counter_ = 0;

// The trial's model with the weights of its epoch-1 checkpoint (its weights throughout, at
// learning rate 0), in float64, and its training features: what the reference recomputes from.
class Reference {
 public:
  Reference(const sweeps::TrialSpec& trial, const std::string& checkpoints) : trial_(trial) {
    const tasks::TaskAdapter adapter = tasks::AdapterOf(tasks::Task::kSst2);
    absl::StatusOr<internal::TrialModel> model = internal::LoadTrialModel(
        trial.model_path, internal::HeadOf(adapter), adapter.num_outputs, 0);
    EXPECT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    model_.model->module().to(at::kDouble);
    absl::StatusOr<models::LoadReport> loaded = models::LoadSafetensors(
        model_.model->module(),
        (fs::path(checkpoints) / trial.id / "epoch-1" / "model.safetensors").string(),
        {.base_model_prefix = model_.model->base_model_prefix()});
    EXPECT_TRUE(loaded.ok() && loaded->missing_keys.empty());
    model_.model->module().eval();
    absl::StatusOr<internal::TrialData> data =
        internal::TrialData::Load(trial, tasks::Task::kSst2, *model_.tokenizer);
    EXPECT_TRUE(data.ok()) << data.status();
    data_ = std::move(*data);
  }

  // Layer l's hidden states (l = 1..kLayers) at the real tokens of `indices`, in order: feature
  // after feature, each one's tokens in order.
  std::vector<at::Tensor> Points(const std::vector<int64_t>& indices) {
    at::NoGradGuard no_grad;
    const auto& features = data_.train_features();
    const internal::HostBatch host = internal::Collate(features, indices, data_.pad_id());
    const models::ModelOutput out = model_.model->Forward(internal::ToModelBatch(host, at::kCPU));
    std::vector<at::Tensor> layers;
    for (int64_t l = 1; l <= kLayers; ++l) {
      std::vector<at::Tensor> rows;
      for (size_t b = 0; b < indices.size(); ++b) {
        const auto length = static_cast<int64_t>(features[indices[b]].input_ids.size());
        rows.push_back(out.hidden_states[l][static_cast<int64_t>(b)].slice(0, 0, length));
      }
      layers.push_back(at::cat(rows));
    }
    return layers;
  }

  // The S0s of epoch `epoch` (docs/training.md, "S0"): the sample's examples (the file's order,
  // or the epoch's shuffled order) in batches of 64; layer l's S0 from its first
  // kShrinkagePoints tokens; the union's from the first kShrinkagePoints rows of the batches'
  // union clouds (each batch: layer 1's tokens, then layer 2's, ...). Index kLayers: the union.
  std::vector<at::Tensor> ShrinkageOf(int64_t epoch, bool shuffled) {
    const auto n = static_cast<int64_t>(data_.train_features().size());
    std::vector<int64_t> order;
    for (const auto& batch : internal::EpochBatches(n, kBatchSize, trial_.seed, epoch, shuffled)) {
      order.insert(order.end(), batch.begin(), batch.end());
    }
    std::vector<std::vector<at::Tensor>> per_layer(kLayers);
    std::vector<at::Tensor> union_rows;
    for (size_t begin = 0; begin < order.size(); begin += 64) {
      const std::vector<int64_t> batch(order.begin() + begin,
                                       order.begin() + std::min(order.size(), begin + 64));
      const std::vector<at::Tensor> layers = Points(batch);
      for (int64_t l = 0; l < kLayers; ++l) {
        per_layer[l].push_back(layers[l]);
        union_rows.push_back(layers[l]);
      }
    }
    std::vector<at::Tensor> s0;
    for (int64_t l = 0; l < kLayers; ++l) {
      s0.push_back(Covariance(at::cat(per_layer[l]).slice(0, 0, kShrinkagePoints)));
    }
    s0.push_back(Covariance(at::cat(union_rows).slice(0, 0, kShrinkagePoints)));
    return s0;
  }

  // The rows (isoscore_star, isoscore, avg_cosine by layer, -1 the union) of the step that took
  // batch `b` of epoch `epoch`, with the epoch's S0s `s0`.
  std::map<int64_t, std::array<double, 3>> StepRows(int64_t epoch, int64_t b,
                                                    const std::vector<at::Tensor>& s0) {
    const auto n = static_cast<int64_t>(data_.train_features().size());
    const std::vector<at::Tensor> layers =
        Points(internal::EpochBatches(n, kBatchSize, trial_.seed, epoch, true).at(b));
    std::map<int64_t, std::array<double, 3>> rows;
    auto measure = [&](const at::Tensor& x, const at::Tensor& shrinkage) -> std::array<double, 3> {
      const at::Tensor c = Covariance(x);
      return {IsoScoreOf((1.0 - kEvaluationZeta) * c + kEvaluationZeta * shrinkage), IsoScoreOf(c),
              AverageCosine(x)};
    };
    for (int64_t l = 0; l < kLayers; ++l) rows[l + 1] = measure(layers[l], s0[l]);
    rows[-1] = measure(at::cat(layers), s0[kLayers]);
    return rows;
  }

  int64_t steps_per_epoch() const {
    return (static_cast<int64_t>(data_.train_features().size()) + kBatchSize - 1) / kBatchSize;
  }

 private:
  sweeps::TrialSpec trial_;
  internal::TrialModel model_;
  internal::TrialData data_;
};

// Checks every logged row of `rows` against the reference, epoch by epoch, to 1e-9; returns the
// reference S0s of each epoch.
std::vector<std::vector<at::Tensor>> ExpectRowsMatch(const std::vector<db::IsotropyRow>& rows,
                                                     Reference& reference, int64_t epochs,
                                                     bool shuffled) {
  std::vector<std::vector<at::Tensor>> s0;
  for (int64_t e = 0; e < epochs; ++e) s0.push_back(reference.ShrinkageOf(e, shuffled));
  const int64_t steps = reference.steps_per_epoch();
  EXPECT_EQ(rows.size(), static_cast<size_t>(epochs * steps * (kLayers + 1)));
  std::map<int64_t, std::map<int64_t, std::array<double, 3>>> expected;  // by step
  for (const db::IsotropyRow& row : rows) {
    const int64_t epoch = row.step / steps;
    if (!expected.contains(row.step)) {
      expected[row.step] = reference.StepRows(epoch, row.step % steps, s0.at(epoch));
    }
    const std::array<double, 3>& want = expected[row.step].at(row.layer);
    EXPECT_NEAR(row.isoscore_star, want[0], 1e-9) << "step " << row.step << " layer " << row.layer;
    EXPECT_NEAR(row.isoscore, want[1], 1e-9) << "step " << row.step << " layer " << row.layer;
    EXPECT_NEAR(row.avg_cosine, want[2], 1e-9) << "step " << row.step << " layer " << row.layer;
  }
  return s0;
}

// I-STAR on layer 2 alone: its own S0 is layer 2's union, yet the rows cover layers 1..3 and
// the union of all three, each IsoScore* at evaluation_zeta with the layer's own S0.
TEST_F(IsotropyLogTest, PerLayerRowsEqualADirectComputationWithEachLayersOwnS0) {
  const sweeps::TrialSpec trial =
      Trial("istar: {lambda: [-1], zeta: [0.2]}", 1, "  regularizer_layers: [2]\n");
  const std::string checkpoints = Path("ckpt");
  const std::vector<db::IsotropyRow> rows = RunAndReadRows(trial, checkpoints);
  ASSERT_FALSE(rows.empty());
  Reference reference(trial, checkpoints);
  const auto s0 = ExpectRowsMatch(rows, reference, 1, /*shuffled=*/false);
  // The per-layer S0s differ from the union's: the rows would not match with the union's.
  EXPECT_FALSE(at::allclose(s0[0][0], s0[0][kLayers]));
}

TEST_F(IsotropyLogTest, EveryRegularizerLogsEveryLayerAndTheUnionAtEveryLoggedStep) {
  for (const std::string regularizer :
       {"baseline", "cosreg: {lambda: [0.1]}", "istar: {lambda: [-1], zeta: [0.2]}"}) {
    SCOPED_TRACE(regularizer);
    const sweeps::TrialSpec trial = Trial(regularizer, 1, "", /*every=*/2);
    const std::vector<db::IsotropyRow> rows = RunAndReadRows(trial, Path("ckpt"));
    std::set<std::pair<int64_t, int64_t>> logged;
    for (const db::IsotropyRow& row : rows) {
      EXPECT_TRUE(logged.insert({row.step, row.layer}).second);
      EXPECT_GE(row.isoscore_star, 0.0);
      EXPECT_LE(row.isoscore_star, 1.0);
    }
    // 96 examples in steps of 32: steps 0 and 2 (every 2 steps; the epoch's last).
    std::set<std::pair<int64_t, int64_t>> want;
    for (int64_t step : {0, 2}) {
      for (int64_t layer : {1, 2, 3, -1}) want.insert({step, layer});
    }
    EXPECT_EQ(logged, want);
  }
}

// training.shrinkage_sample: "shuffled" draws each epoch's S0s from the epoch's shuffled order
// (they differ between epochs), "first" from the file's first examples (the same every epoch).
// The rows of both epochs match the reference built with that epoch's S0s, so the trial's S0s
// are the reference's: different in the two epochs when shuffled, equal when first.
TEST_F(IsotropyLogTest, ShuffledS0DiffersBetweenEpochsAndFirstDoesNot) {
  for (const bool shuffled : {false, true}) {
    SCOPED_TRACE(shuffled ? "shuffled" : "first");
    const sweeps::TrialSpec trial =
        Trial("baseline", 2, shuffled ? "  shrinkage_sample: shuffled\n" : "");
    const std::string checkpoints = Path("ckpt");
    const std::vector<db::IsotropyRow> rows = RunAndReadRows(trial, checkpoints);
    ASSERT_FALSE(rows.empty());
    Reference reference(trial, checkpoints);
    const auto s0 = ExpectRowsMatch(rows, reference, 2, shuffled);
    for (int64_t l = 0; l <= kLayers; ++l) {
      const double change = (s0[1][l] - s0[0][l]).abs().max().item<double>();
      if (shuffled) {
        EXPECT_GT(change, 1e-6) << "layer " << l;
      } else {
        EXPECT_EQ(change, 0.0) << "layer " << l;
      }
    }
  }
}

}  // namespace
}  // namespace istar::trainer
