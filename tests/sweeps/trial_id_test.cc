// Trial ids: the SHA-256 of the canonical configuration, which holds every result-affecting
// setting and nothing else, whatever the file's layout.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::Ids;
using ::istar::sweeps::testing::kClippedAtHalfId;
using ::istar::sweeps::testing::kClippedAtHalfJson;
using ::istar::sweeps::testing::kConstantUnclippedId;
using ::istar::sweeps::testing::kConstantUnclippedJson;
using ::istar::sweeps::testing::kIStarId;
using ::istar::sweeps::testing::kIStarJson;
using ::istar::sweeps::testing::Parse;
using ::testing::HasSubstr;
using ::testing::Not;

// The digests below were computed outside istar, with
//   printf '%s' '<the canonical JSON literal>' | sha256sum

constexpr char kBaselineJson[] =
    R"({"batch_size":16,"epochs":1,"eval_every_steps":0,"format":1,"isotropy_every_steps":50,)"
    R"("learning_rate":3e-05,"max_seq_length":128,"model":"tiny","model_path":"m",)"
    R"("precision":"bf16","regularizer":"baseline","regularizer_layers":[2,4],"seed":3,)"
    R"("shrinkage_points":250000,"task":"squad","task_path":"q","warmup_ratio":0.0,)"
    R"("weight_decay":0.0})";
constexpr char kBaselineId[] = "e15fa10abbc617ff77126fc3279c1d97a4308b9dd8c6d6d2ed6109ea3a2a5073";

// One istar trial in block style; the variants below rewrite parts of it.
constexpr char kBase[] = R"yaml(name: base
models:
  bert: /ckpt/bert
tasks:
  sst2: /data/sst2
training:
  max_seq_length: 256
  warmup_ratio: 0.0
  weight_decay: 0.0
  precision: fp32
  eval_every_steps: 0
  isotropy_every_steps: 50
  shrinkage_points: 250000
  ranks_per_trial: 1
grid:
  learning_rate: [1e-5]
  batch_size: [32]
  epochs: [4]
  seed: [0]
  regularizers:
    - istar: {lambda: [-5], zeta: [0.2]}
)yaml";

std::string OnlyId(const std::string& yaml) {
  const SweepSpec sweep = Parse(yaml);
  EXPECT_EQ(sweep.trials.size(), 1u) << yaml;
  return sweep.trials.empty() ? "" : sweep.trials[0].id;
}

std::string Replace(const std::string& yaml, const std::string& from, const std::string& to) {
  EXPECT_THAT(yaml, HasSubstr(from));
  return absl::StrReplaceAll(yaml, {{from, to}});
}

TEST(TrialId, KnownConfigurationHasKnownCanonicalJsonAndDigest) {
  const SweepSpec sweep = Parse(kBase);
  ASSERT_EQ(sweep.trials.size(), 1u);
  EXPECT_EQ(sweep.trials[0].canonical_json, kIStarJson);
  EXPECT_EQ(sweep.trials[0].id, kIStarId);

  const SweepSpec baseline = Parse(R"yaml(
name: tiny
models: {tiny: m}
tasks: {squad: q}
training: {max_seq_length: 128, precision: bf16, regularizer_layers: [4, 2]}
grid: {batch_size: [16], epochs: [1], seed: [3], learning_rate: [3e-5], regularizers: [baseline]}
)yaml");
  ASSERT_EQ(baseline.trials.size(), 1u);
  EXPECT_EQ(baseline.trials[0].canonical_json, kBaselineJson);
  EXPECT_EQ(baseline.trials[0].id, kBaselineId);
}

TEST(TrialId, IsStableUnderLayoutKeyOrderCommentsAndNumberSpelling) {
  const std::string flow =
      "{grid: {regularizers: [{istar: {zeta: [0.2], lambda: [-5.0]}}], seed: [0]},\n"
      " tasks: {sst2: /data/sst2}, models: {bert: /ckpt/bert}, name: other-name}\n";
  const std::string reordered = R"yaml(
# comments and blank lines change nothing
grid:
    regularizers:
        -   istar:
                zeta:   [ 2e-1 ]      # 0.2
                lambda:
                    - -5.000
tasks:    {sst2: "/data/sst2"}
name:     reordered
models:
    bert:   '/ckpt/bert'
)yaml";
  EXPECT_EQ(OnlyId(flow), kIStarId);
  EXPECT_EQ(OnlyId(reordered), kIStarId);
  EXPECT_EQ(OnlyId(Replace(kBase, "lambda: [-5]", "lambda: [-5.0]")), kIStarId);
  EXPECT_EQ(OnlyId(Replace(kBase, "[1e-5]", "[0.00001]")), kIStarId);
  EXPECT_EQ(OnlyId(Replace(kBase, "[0]\n", "[+0]\n")), kIStarId);
}

TEST(TrialId, IgnoresTheSweepNameRanksPerTrialAndGradientAccumulation) {
  EXPECT_EQ(OnlyId(Replace(kBase, "name: base", "name: renamed")), kIStarId);
  EXPECT_EQ(OnlyId(Replace(kBase, "ranks_per_trial: 1", "ranks_per_trial: 8")), kIStarId);
  EXPECT_EQ(OnlyId(Replace(kBase, "ranks_per_trial: 1",
                           "ranks_per_trial: 1\n  gradient_accumulation_steps: 4")),
            kIStarId);
}

// Note [Canonical trial configuration]: lr_schedule and max_grad_norm came after ids had been
// recorded, so their defaults, left out or written, leave the configuration and the id as they
// were (the ids recorded before: kIStarId here, tests/sweeps/testdata/*.ids for the examples).
TEST(TrialId, DefaultScheduleAndClippingWrittenOutKeepTheIdRecordedBeforeThem) {
  for (const char* defaults : {"lr_schedule: linear", "max_grad_norm: 1.0", "max_grad_norm: 1",
                               "lr_schedule: linear\n  max_grad_norm: 1e0"}) {
    SCOPED_TRACE(defaults);
    const SweepSpec sweep = Parse(
        Replace(kBase, "ranks_per_trial: 1", absl::StrCat("ranks_per_trial: 1\n  ", defaults)));
    ASSERT_EQ(sweep.trials.size(), 1u);
    EXPECT_EQ(sweep.trials[0].canonical_json, kIStarJson);
    EXPECT_EQ(sweep.trials[0].id, kIStarId);
  }
}

TEST(TrialId, ScheduleAndClippingOtherThanTheDefaultsAreKeysOfTheConfiguration) {
  const SweepSpec published =
      Parse(Replace(kBase, "ranks_per_trial: 1",
                    "ranks_per_trial: 1\n  lr_schedule: constant\n  max_grad_norm: off"));
  ASSERT_EQ(published.trials.size(), 1u);
  EXPECT_EQ(published.trials[0].canonical_json, kConstantUnclippedJson);
  EXPECT_EQ(published.trials[0].id, kConstantUnclippedId);

  const SweepSpec half =
      Parse(Replace(kBase, "ranks_per_trial: 1", "ranks_per_trial: 1\n  max_grad_norm: 0.50"));
  ASSERT_EQ(half.trials.size(), 1u);
  EXPECT_EQ(half.trials[0].canonical_json, kClippedAtHalfJson);
  EXPECT_EQ(half.trials[0].id, kClippedAtHalfId);
}

// The published protocol's options (Note [Canonical trial configuration]), each set to other than
// its default, in their sorted places; the digest computed outside istar with sha256sum.
constexpr char kProtocolJson[] =
    R"({"batch_size":32,"doc_stride":128,"epochs":4,"eval_every_steps":0,"evaluation_zeta":0.5,)"
    R"("format":1,"isotropy_every_steps":50,"isotropy_scope":"per_rank","lambda":-5.0,)"
    R"("learning_rate":1e-05,"max_seq_length":256,"model":"bert","model_path":"/ckpt/bert",)"
    R"("point_cloud_padding":"include","precision":"fp32","regularizer":"istar",)"
    R"("regularizer_layers":[12,"last"],"seed":0,"segment_ids":false,)"
    R"("selection":{"fraction":0.5,"seed":7},"shrinkage_points":250000,)"
    R"("shrinkage_sample":"shuffled","task":"sst2","task_path":"/data/sst2","warmup_ratio":0.0,)"
    R"("weight_decay":0.0,"zeta":0.2})";
constexpr char kProtocolId[] = "5b2b99103b73b3b73df6a5cc55b7168c5c721ba4e276d15527ce8136bb4be08a";

TEST(TrialId, ProtocolOptionsOtherThanTheirDefaultsAreKeysOfTheConfiguration) {
  const SweepSpec sweep = Parse(Replace(kBase, "ranks_per_trial: 1",
                                        "ranks_per_trial: 1\n"
                                        "  doc_stride: 128\n"
                                        "  evaluation_zeta: 0.50\n"
                                        "  isotropy_scope: per_rank\n"
                                        "  point_cloud_padding: include\n"
                                        "  regularizer_layers: [last, 12]\n"
                                        "  segment_ids: false\n"
                                        "  selection: {seed: 7, fraction: 0.5}\n"
                                        "  shrinkage_sample: shuffled"));
  ASSERT_EQ(sweep.trials.size(), 1u);
  EXPECT_EQ(sweep.trials[0].canonical_json, kProtocolJson);
  EXPECT_EQ(sweep.trials[0].id, kProtocolId);
}

TEST(TrialId, ProtocolOptionsWrittenWithTheirDefaultsKeepTheIdRecordedBeforeThem) {
  const SweepSpec sweep = Parse(Replace(kBase, "ranks_per_trial: 1",
                                        "ranks_per_trial: 1\n"
                                        "  evaluation_zeta: 0.75\n"
                                        "  isotropy_scope: global\n"
                                        "  point_cloud_padding: exclude\n"
                                        "  segment_ids: true\n"
                                        "  shrinkage_sample: first"));
  ASSERT_EQ(sweep.trials.size(), 1u);
  EXPECT_EQ(sweep.trials[0].canonical_json, kIStarJson);
  EXPECT_EQ(sweep.trials[0].id, kIStarId);
}

// Note [Settings per model and per task]: the sweep's settings, then the model's, then the task's.
TEST(TrialId, ModelAndTaskEntriesOverrideTheSweepsSettings) {
  const SweepSpec sweep = Parse(R"yaml(name: per-entry
models:
  bert: {path: /ckpt/bert, regularizer_layers: [last], max_seq_length: 200}
  distilbert: /ckpt/distilbert
tasks:
  sst2: /data/sst2
  squad: {path: /data/squad, max_seq_length: 384, doc_stride: 128}
training: {max_seq_length: 128, regularizer_layers: [1, 2]}
grid: {regularizers: [baseline]}
)yaml");
  ASSERT_EQ(sweep.trials.size(), 4u);
  std::map<std::string, const TrialSpec*> by_pair;
  for (const TrialSpec& trial : sweep.trials) by_pair[trial.model + "/" + trial.task] = &trial;
  const TrainingSettings& bert_sst2 = by_pair.at("bert/sst2")->training;
  EXPECT_EQ(bert_sst2.max_seq_length, 200);
  EXPECT_EQ(bert_sst2.regularizer_layers, std::vector<int64_t>{kLastLayer});
  EXPECT_EQ(bert_sst2.doc_stride, std::nullopt);
  const TrainingSettings& bert_squad = by_pair.at("bert/squad")->training;
  EXPECT_EQ(bert_squad.max_seq_length, 384);  // the task's wins over the model's
  EXPECT_EQ(bert_squad.doc_stride, 128);
  EXPECT_EQ(bert_squad.regularizer_layers, std::vector<int64_t>{kLastLayer});
  const TrainingSettings& distil_sst2 = by_pair.at("distilbert/sst2")->training;
  EXPECT_EQ(distil_sst2.max_seq_length, 128);
  EXPECT_EQ(distil_sst2.regularizer_layers, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(by_pair.at("distilbert/squad")->training.max_seq_length, 384);
  EXPECT_THAT(by_pair.at("bert/squad")->canonical_json, HasSubstr(R"("doc_stride":128,)"));
  EXPECT_THAT(by_pair.at("bert/squad")->canonical_json, HasSubstr(R"("max_seq_length":384,)"));
  EXPECT_THAT(by_pair.at("bert/sst2")->canonical_json,
              HasSubstr(R"("regularizer_layers":["last"],)"));
  // A folder given as a map is the same trial as the folder given as a string.
  EXPECT_EQ(OnlyId(Replace(kBase, "bert: /ckpt/bert", "bert: {path: /ckpt/bert}")), kIStarId);
  EXPECT_EQ(
      OnlyId(Replace(kBase, "sst2: /data/sst2", "sst2: {path: /data/sst2, max_seq_length: 256}")),
      kIStarId);
}

// A regularizer entry's regularizer_layers beats every other: the paper's CosReg on the last layer
// beside I-STAR on every layer, in one file.
TEST(TrialId, ARegularizerEntrysLayersAreItsTrialsLayers) {
  const SweepSpec sweep = Parse(R"yaml(name: layers
models: {bert: {path: /b, regularizer_layers: [1]}, distilbert: /d}
tasks: {sst2: /s}
grid:
  regularizers:
    - cosreg: {lambda: [1], regularizer_layers: [last]}
    - istar: {lambda: [-1], zeta: [0.2]}
)yaml");
  ASSERT_EQ(sweep.trials.size(), 4u);
  for (const TrialSpec& trial : sweep.trials) {
    SCOPED_TRACE(trial.model + " " + trial.regularizer);
    if (trial.regularizer == "cosreg") {
      EXPECT_EQ(trial.training.regularizer_layers, std::vector<int64_t>{kLastLayer});
      EXPECT_THAT(trial.canonical_json, HasSubstr(R"("regularizer_layers":["last"])"));
    } else if (trial.model == "bert") {
      EXPECT_EQ(trial.training.regularizer_layers, std::vector<int64_t>{1});
    } else {
      EXPECT_TRUE(trial.training.regularizer_layers.empty());
    }
  }
}

TEST(TrialId, IgnoresTheLaunchSection) {
  EXPECT_EQ(OnlyId(std::string(kBase) +
                   "launch:\n  slurm: {partition: gpu, time: '1-00:00:00', gpus_per_rank: 1}\n"),
            kIStarId);
}

TEST(TrialId, ChangesWithEveryResultAffectingSetting) {
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"bert: /ckpt/bert", "bert: /ckpt/bert-v2"},
      {"bert: /ckpt/bert", "roberta: /ckpt/bert"},
      {"sst2: /data/sst2", "sst2: /data/sst2-v2"},
      {"sst2: /data/sst2", "sst5: /data/sst2"},
      {"- istar: {lambda: [-5], zeta: [0.2]}", "- cosreg: {lambda: [-5]}"},
      {"lambda: [-5]", "lambda: [-4]"},
      {"zeta: [0.2]", "zeta: [0.3]"},
      {"learning_rate: [1e-5]", "learning_rate: [2e-5]"},
      {"batch_size: [32]", "batch_size: [16]"},
      {"epochs: [4]", "epochs: [3]"},
      {"seed: [0]", "seed: [1]"},
      {"max_seq_length: 256", "max_seq_length: 128"},
      {"warmup_ratio: 0.0", "warmup_ratio: 0.1"},
      {"weight_decay: 0.0", "weight_decay: 0.01"},
      {"precision: fp32", "precision: bf16"},
      {"eval_every_steps: 0", "eval_every_steps: 100"},
      {"isotropy_every_steps: 50", "isotropy_every_steps: 10"},
      {"shrinkage_points: 250000", "shrinkage_points: 1000"},
      {"ranks_per_trial: 1", "ranks_per_trial: 1\n  regularizer_layers: [12]"},
      {"ranks_per_trial: 1", "ranks_per_trial: 1\n  lr_schedule: constant"},
      {"ranks_per_trial: 1", "ranks_per_trial: 1\n  max_grad_norm: off"},
      {"ranks_per_trial: 1", "ranks_per_trial: 1\n  max_grad_norm: 2.0"},
  };
  std::set<std::string> ids = {kIStarId};
  for (const auto& [from, to] : changes) {
    SCOPED_TRACE(to);
    const std::string id = OnlyId(Replace(kBase, from, to));
    EXPECT_TRUE(ids.insert(id).second) << "id " << id << " seen before";
  }
}

TEST(TrialId, CanonicalJsonHoldsOnlyTheSettingsOfItsRegularizer) {
  const SweepSpec sweep = Parse(R"yaml(
name: shapes
models: {m: /m}
tasks: {sst2: /s}
grid:
  regularizers: [baseline, {cosreg: {lambda: [1]}}, {istar: {lambda: [1], zeta: [0.5]}}]
)yaml");
  ASSERT_EQ(sweep.trials.size(), 3u);
  EXPECT_THAT(sweep.trials[0].canonical_json, Not(HasSubstr("\"lambda\"")));
  EXPECT_THAT(sweep.trials[0].canonical_json, Not(HasSubstr("\"zeta\"")));
  EXPECT_THAT(sweep.trials[1].canonical_json, HasSubstr("\"lambda\":1.0"));
  EXPECT_THAT(sweep.trials[1].canonical_json, Not(HasSubstr("\"zeta\"")));
  EXPECT_THAT(sweep.trials[2].canonical_json, HasSubstr("\"zeta\":0.5"));
  for (const TrialSpec& trial : sweep.trials) {
    EXPECT_THAT(trial.canonical_json, Not(HasSubstr("ranks_per_trial")));
    EXPECT_THAT(trial.canonical_json, Not(HasSubstr("shapes")));
    EXPECT_THAT(trial.id, ::testing::MatchesRegex("[0-9a-f]{64}"));
  }
}

TEST(TrialId, ANewRegularizersParametersAreKeysOfItsOwnWithTheirDefaults) {
  const SweepSpec sweep = Parse(R"yaml(
name: new
models: {m: /m}
tasks: {sst2: /s}
grid:
  regularizers:
    - vicreg: {lambda: [0.5], gamma: [0.5, 2]}
    - vicreg: {lambda: [0.5]}
    - uniformity: {lambda: [-1]}
    - sigreg: {lambda: [1]}
)yaml");
  ASSERT_EQ(sweep.trials.size(), 5u);
  EXPECT_THAT(sweep.trials[0].canonical_json, HasSubstr("\"gamma\":0.5,"));
  EXPECT_THAT(sweep.trials[1].canonical_json, HasSubstr("\"gamma\":2.0,"));
  // Left out: the catalogue's default, written out, so the id does not depend on a default.
  EXPECT_THAT(sweep.trials[2].canonical_json, HasSubstr("\"gamma\":1.0,"));
  EXPECT_EQ(sweep.trials[2].Parameter("gamma"), 1.0);
  EXPECT_THAT(sweep.trials[3].canonical_json, HasSubstr("\"t\":2.0"));
  EXPECT_THAT(sweep.trials[3].canonical_json, Not(HasSubstr("gamma")));
  EXPECT_EQ(sweep.trials[3].Parameter("gamma"), std::nullopt);
  EXPECT_THAT(sweep.trials[4].canonical_json, HasSubstr("\"lambda\":1.0"));
  EXPECT_THAT(sweep.trials[4].canonical_json, Not(HasSubstr("\"t\"")));
  EXPECT_THAT(sweep.trials[4].canonical_json, HasSubstr("\"regularizer\":\"sigreg\""));
}

TEST(TrialId, NegativeZeroLambdaIsTheSameTrialAsZero) {
  EXPECT_EQ(OnlyId(Replace(kBase, "lambda: [-5]", "lambda: [-0.0]")),
            OnlyId(Replace(kBase, "lambda: [-5]", "lambda: [0]")));
}

TEST(TrialId, TwoSweepsSharingATrialShareItsId) {
  const std::string head = "models: {bert: /ckpt/bert}\ntasks: {sst2: /data/sst2}\n";
  const SweepSpec first = Parse("name: first\n" + head +
                                "grid: {seed: [0, 1], regularizers: [baseline, "
                                "{istar: {lambda: [-5], zeta: [0.2]}}]}\n");
  const SweepSpec second =
      Parse("name: second\n" + head + "grid: {seed: [1, 2], regularizers: [baseline]}\n");
  const std::vector<std::string> first_ids = Ids(first);
  const std::vector<std::string> second_ids = Ids(second);
  ASSERT_EQ(first_ids.size(), 4u);
  ASSERT_EQ(second_ids.size(), 2u);
  EXPECT_EQ(second_ids[0], first_ids[1]);  // baseline, seed 1
  EXPECT_NE(second_ids[1], first_ids[0]);
}

}  // namespace
}  // namespace istar::sweeps
