// The final isotropy measures a trial stores in final_results (docs/isotropy.md, "Final isotropy
// measures"), recomputed from the trial's final checkpoint by independent code: each feature run
// alone (no padding), covariances by plain loops in double, IsoScore* by the published eigenvalue
// definition, TwoNN and the mean cosine by brute force over all pairs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/store.h"
#include "models/checkpoint.h"
#include "models/config.h"
#include "models/model.h"
#include "sweeps/sweep.h"
#include "tasks/adapter.h"
#include "tasks/task.h"
#include "tests/reference/scikit_dimension.h"
#include "tests/trainer/tiny_bert_folder.h"
#include "tokenizers/tokenizer.h"
#include "trainer/internal/task_head.h"
#include "trainer/internal/trial_data.h"
#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<double>>;

// Sample covariance (divisor n - 1) of `points`, two passes.
Rows Covariance(const Rows& points) {
  const size_t d = points.front().size();
  std::vector<double> mean(d, 0.0);
  for (const auto& x : points) {
    for (size_t j = 0; j < d; ++j) mean[j] += x[j];
  }
  for (double& m : mean) m /= static_cast<double>(points.size());
  Rows cov(d, std::vector<double>(d, 0.0));
  for (const auto& x : points) {
    for (size_t i = 0; i < d; ++i) {
      for (size_t j = 0; j < d; ++j) cov[i][j] += (x[i] - mean[i]) * (x[j] - mean[j]);
    }
  }
  for (auto& row : cov) {
    for (double& c : row) c /= static_cast<double>(points.size() - 1);
  }
  return cov;
}

// IsoScore* as published (Rudman & Eickhoff; docs/isotropy.md, steps 1-4) of
// S = (1 - zeta) C + zeta S0, from the eigenvalues of S.
double PublishedIsoScore(const Rows& c, const Rows& s0, double zeta) {
  const auto d = static_cast<int64_t>(c.size());
  at::Tensor s = at::zeros({d, d}, at::kDouble);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      s[i][j] = (1 - zeta) * c[i][j] + (s0.empty() ? 0.0 : zeta * s0[i][j]);
    }
  }
  const at::Tensor lambda = at::linalg_eigvalsh(s);
  const double dd = static_cast<double>(d);
  const at::Tensor scaled = std::sqrt(dd) * lambda / lambda.norm();
  const double delta = (scaled - 1.0).norm().item<double>() / std::sqrt(2 * (dd - std::sqrt(dd)));
  const double k = std::pow(dd - delta * delta * (dd - std::sqrt(dd)), 2) / (dd * dd);
  return (dd * k - 1) / (dd - 1);
}

// Mean cosine over ordered pairs of distinct rows.
double MeanPairwiseCosine(const Rows& points) {
  double total = 0;
  const size_t n = points.size();
  std::vector<double> norms;
  for (const auto& x : points) {
    double sq = 0;
    for (double v : x) sq += v * v;
    norms.push_back(std::sqrt(sq));
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double dot = 0;
      for (size_t k = 0; k < points[i].size(); ++k) dot += points[i][k] * points[j][k];
      total += dot / (norms[i] * norms[j]);
    }
  }
  return total / static_cast<double>(n * (n - 1));
}

// hidden_states of `feature` run alone: [layer][token][dim].
std::vector<Rows> HiddenStates(models::TaskModel& model, const tasks::Feature& feature) {
  const auto t = static_cast<int64_t>(feature.input_ids.size());
  std::vector<int64_t> ids(feature.input_ids.begin(), feature.input_ids.end());
  std::vector<int64_t> types(feature.token_type_ids.begin(), feature.token_type_ids.end());
  const models::ModelOutput out =
      model.Forward({.input_ids = at::tensor(ids, at::kLong).view({1, t}),
                     .attention_mask = at::ones({1, t}, at::kLong),
                     .token_type_ids = at::tensor(types, at::kLong).view({1, t})});
  std::vector<Rows> layers;
  for (const at::Tensor& h : out.hidden_states) {
    const at::Tensor host = h[0].to(at::kDouble).contiguous();
    const auto a = host.accessor<double, 2>();
    Rows rows(t, std::vector<double>(host.size(1)));
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < host.size(1); ++j) rows[i][j] = a[i][j];
    }
    layers.push_back(std::move(rows));
  }
  return layers;
}

class FinalMeasuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / absl::StrCat("istar_final_measures_test_", ::getpid());
    ASSERT_TRUE(
        tasks::WriteDemoSentimentTask((root_ / "sst2").string(),
                                      {.seed = 3, .train_examples = 192, .dev_examples = 90})
            .ok());
    ASSERT_NO_FATAL_FAILURE(WriteTinyBertFolder(root_ / "model"));
  }
  void TearDown() override {
    std::error_code error;
    fs::remove_all(root_, error);
  }

  fs::path root_;
};

// A one-epoch float64 trial whose S0 budget (700 tokens) ends inside the second training batch.
TEST_F(FinalMeasuresTest, StoredMeasuresEqualAnIndependentRecomputationFromTheCheckpoint) {
  const std::string yaml = absl::StrCat(
      "name: final\nmodels:\n  tiny: ", (root_ / "model").string(),
      "\ntasks:\n  sst2: ", (root_ / "sst2").string(),
      "\ntraining:\n  max_seq_length: 32\n  shrinkage_points: 700\n"
      "grid:\n  batch_size: [32]\n  epochs: [1]\n  learning_rate: [2e-3]\n  seed: [5]\n"
      "  regularizers:\n    - istar: {lambda: [-0.5], zeta: [0.2]}\n");
  absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(yaml, "final.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  const sweeps::TrialSpec trial = sweep->trials.at(0);
  const std::string db = (root_ / "results.db").string();
  const std::string checkpoints = (root_ / "ckpt").string();
  absl::StatusOr<TrialResult> result = RunTrial(
      trial, {.db_path = db, .checkpoint_dir = checkpoints, .progress = false, .float64 = true});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, TrialOutcome::kDone) << result->error;
  EXPECT_FALSE(result->final_metrics.contains("cls_isoscore_star"));  // task metrics only

  auto store = db::Store::Open(db);
  ASSERT_TRUE(store.ok()) << store.status();
  auto record = (*store)->GetTrial(trial.id);
  ASSERT_TRUE(record.ok()) << record.status();
  std::map<std::string, double> stored;
  for (const db::FinalResult& row : record->final_results) {
    EXPECT_EQ(row.split, "validation") << row.name;
    stored[row.name] = row.value;
  }
  // accuracy, 2 layers, cls_isoscore_star, token_isoscore, cls_twonn, avg_cosine_last_layer.
  ASSERT_EQ(stored.size(), 7u);

  // The trained weights, in float64, and the trial's features.
  const tasks::Task task = *tasks::ParseTask("sst2");
  const tasks::TaskAdapter adapter = tasks::AdapterOf(task);
  absl::StatusOr<models::ModelConfig> config =
      models::ReadModelConfig((root_ / "model" / "config.json").string());
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<models::TaskModel>> model =
      models::CreateModel(*config, internal::HeadOf(adapter), adapter.num_outputs, 99);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->module().to(at::kDouble);
  ASSERT_TRUE(models::LoadSafetensors(
                  (*model)->module(),
                  (fs::path(checkpoints) / trial.id / "epoch-1" / "model.safetensors").string())
                  .ok());
  (*model)->module().eval();
  at::NoGradGuard no_grad;
  absl::StatusOr<std::unique_ptr<tokenizers::Tokenizer>> tokenizer =
      tokenizers::LoadTokenizerFromFolder((root_ / "model").string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  absl::StatusOr<internal::TrialData> data = internal::TrialData::Load(trial, task, **tokenizer);
  ASSERT_TRUE(data.ok()) << data.status();
  const int64_t layers = config->num_hidden_layers;

  // S0 per layer: the first 700 training tokens of that layer, features in file order.
  std::vector<Rows> train_tokens(layers + 1);
  for (const tasks::Feature& f : data->train_features()) {
    if (train_tokens[1].size() >= 700) break;
    const std::vector<Rows> hidden = HiddenStates(**model, f);
    for (int64_t l = 1; l <= layers; ++l) {
      for (const auto& row : hidden[l]) {
        if (train_tokens[l].size() < 700) train_tokens[l].push_back(row);
      }
    }
  }
  std::vector<Rows> cls(layers + 1);
  Rows all_tokens;
  Rows last_tokens;
  for (const tasks::Feature& f : data->eval_splits().front().features) {
    const std::vector<Rows> hidden = HiddenStates(**model, f);
    for (int64_t l = 1; l <= layers; ++l) {
      cls[l].push_back(hidden[l][0]);
      all_tokens.insert(all_tokens.end(), hidden[l].begin(), hidden[l].end());
    }
    last_tokens.insert(last_tokens.end(), hidden[layers].begin(), hidden[layers].end());
  }
  for (int64_t l = 1; l <= layers; ++l) {
    const std::string name = absl::StrCat("cls_isoscore_star_layer_", l);
    ASSERT_TRUE(stored.contains(name)) << name;
    EXPECT_NEAR(stored[name],
                PublishedIsoScore(Covariance(cls[l]), Covariance(train_tokens[l]), 0.75), 1e-9)
        << name;
  }
  EXPECT_EQ(stored["cls_isoscore_star"], stored[absl::StrCat("cls_isoscore_star_layer_", layers)]);
  EXPECT_NEAR(stored["token_isoscore"], PublishedIsoScore(Covariance(all_tokens), {}, 0.0), 1e-9);
  EXPECT_NEAR(stored["cls_twonn"], reference::ScikitDimensionTwoNN(cls[layers]), 1e-9);
  EXPECT_NEAR(stored["avg_cosine_last_layer"], MeanPairwiseCosine(last_tokens), 1e-9);
}

}  // namespace
}  // namespace istar::trainer
