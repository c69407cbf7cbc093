// A trial read back from its canonical JSON (sweeps::TrialFromCanonicalJson): how a worker group
// reads a leased trial. The references are the digests computed outside istar (trial_id_test.cc)
// and every trial of every example sweep.
#include <filesystem>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::kClippedAtHalfId;
using ::istar::sweeps::testing::kClippedAtHalfJson;
using ::istar::sweeps::testing::kConstantUnclippedId;
using ::istar::sweeps::testing::kConstantUnclippedJson;
using ::istar::sweeps::testing::kIStarId;
using ::istar::sweeps::testing::kIStarJson;
using ::istar::sweeps::testing::Parse;
using ::testing::HasSubstr;

// The message of TrialFromCanonicalJson's error for `json` (under kIStarId), which must be
// InvalidArgument.
std::string ErrorOf(const std::string& json, const std::string& id = kIStarId) {
  const absl::StatusOr<TrialSpec> trial = TrialFromCanonicalJson(id, json);
  if (trial.ok()) return "OK";
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInvalidArgument) << trial.status();
  return std::string(trial.status().message());
}

TEST(TrialFromCanonicalJson, ReadsEverySettingOfAPublishedConfiguration) {
  const absl::StatusOr<TrialSpec> trial = TrialFromCanonicalJson(kIStarId, kIStarJson);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->id, kIStarId);
  EXPECT_EQ(trial->canonical_json, kIStarJson);
  EXPECT_EQ(trial->model, "bert");
  EXPECT_EQ(trial->model_path, "/ckpt/bert");
  EXPECT_EQ(trial->task, "sst2");
  EXPECT_EQ(trial->task_path, "/data/sst2");
  EXPECT_EQ(trial->regularizer, "istar");
  EXPECT_EQ(trial->lambda, -5.0);
  EXPECT_EQ(trial->zeta, 0.2);
  EXPECT_TRUE(trial->parameters.empty());
  EXPECT_EQ(trial->batch_size, 32);
  EXPECT_EQ(trial->epochs, 4);
  EXPECT_EQ(trial->seed, 0);
  EXPECT_EQ(trial->learning_rate, 1e-5);
  EXPECT_EQ(trial->training.max_seq_length, 256);
  EXPECT_EQ(trial->training.precision, "fp32");
  EXPECT_EQ(trial->training.isotropy_every_steps, 50);
  EXPECT_EQ(trial->training.shrinkage_points, 250000);
  EXPECT_TRUE(trial->training.regularizer_layers.empty());
  // Outside the identity: the defaults, for the lease to set.
  EXPECT_EQ(trial->training.ranks_per_trial, 1);
  EXPECT_EQ(trial->training.gradient_accumulation_steps, 1);
}

// Every trial of every example sweep (all regularizers and tasks of the catalogue that the
// examples use) comes back as the trial the expansion made.
TEST(TrialFromCanonicalJson, ReturnsEveryExampleTrialAsExpanded) {
  const std::filesystem::path examples = std::filesystem::path(ISTAR_SOURCE_DIR) / "examples";
  int64_t trials = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    const absl::StatusOr<SweepSpec> sweep = LoadSweepFile(entry.path().string());
    ASSERT_TRUE(sweep.ok()) << sweep.status();
    for (const TrialSpec& expanded : sweep->trials) {
      const absl::StatusOr<TrialSpec> read =
          TrialFromCanonicalJson(expanded.id, expanded.canonical_json);
      ASSERT_TRUE(read.ok()) << entry.path() << ": " << read.status();
      EXPECT_EQ(read->model_path, expanded.model_path);
      EXPECT_EQ(read->task_path, expanded.task_path);
      EXPECT_EQ(read->regularizer, expanded.regularizer);
      EXPECT_EQ(read->lambda, expanded.lambda);
      EXPECT_EQ(read->zeta, expanded.zeta);
      EXPECT_EQ(read->parameters, expanded.parameters);
      EXPECT_EQ(read->learning_rate, expanded.learning_rate);
      EXPECT_EQ(read->training.warmup_ratio, expanded.training.warmup_ratio);
      EXPECT_EQ(read->training.regularizer_layers, expanded.training.regularizer_layers);
      ++trials;
    }
  }
  EXPECT_GT(trials, 1000);
}

// Note [Canonical trial configuration]: lr_schedule and max_grad_norm are read when present.
TEST(TrialFromCanonicalJson, ReadsAScheduleAndClippingOtherThanTheDefaults) {
  const absl::StatusOr<TrialSpec> published =
      TrialFromCanonicalJson(kConstantUnclippedId, kConstantUnclippedJson);
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->canonical_json, kConstantUnclippedJson);
  EXPECT_EQ(published->training.lr_schedule, LrSchedule::kConstant);
  EXPECT_EQ(published->training.max_grad_norm, std::nullopt);
  EXPECT_EQ(published->lambda, -5.0);

  const absl::StatusOr<TrialSpec> half =
      TrialFromCanonicalJson(kClippedAtHalfId, kClippedAtHalfJson);
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->training.lr_schedule, LrSchedule::kLinear);
  EXPECT_EQ(half->training.max_grad_norm, 0.5);

  // Without the keys: the defaults.
  const absl::StatusOr<TrialSpec> defaults = TrialFromCanonicalJson(kIStarId, kIStarJson);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training.lr_schedule, LrSchedule::kLinear);
  EXPECT_EQ(defaults->training.max_grad_norm, 1.0);
}

// A sweep's trials of every schedule and clipping come back as expanded.
TEST(TrialFromCanonicalJson, ReturnsTrialsOfEveryScheduleAndClippingAsExpanded) {
  for (const char* training :
       {"{lr_schedule: constant}", "{max_grad_norm: off}", "{max_grad_norm: 3}",
        "{lr_schedule: constant, max_grad_norm: 0.25, warmup_ratio: 0.1}", "{}"}) {
    SCOPED_TRACE(training);
    const SweepSpec sweep =
        Parse(absl::StrCat("name: n\nmodels: {m: /m}\ntasks: {sst2: /s}\ntraining: ", training,
                           "\ngrid: {regularizers: [baseline, {cosreg: {lambda: [1]}}]}\n"));
    ASSERT_EQ(sweep.trials.size(), 2u);
    for (const TrialSpec& expanded : sweep.trials) {
      const absl::StatusOr<TrialSpec> read =
          TrialFromCanonicalJson(expanded.id, expanded.canonical_json);
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_EQ(read->training.lr_schedule, expanded.training.lr_schedule);
      EXPECT_EQ(read->training.max_grad_norm, expanded.training.max_grad_norm);
      EXPECT_EQ(read->training.warmup_ratio, expanded.training.warmup_ratio);
    }
  }
}

// Every published-protocol option, set in a sweep file, comes back from the canonical JSON.
TEST(TrialFromCanonicalJson, ReturnsTrialsOfEveryProtocolOptionAsExpanded) {
  for (const char* training :
       {"{doc_stride: 64}", "{selection: {fraction: 0.25, seed: 11}}",
        "{point_cloud_padding: include}", "{isotropy_scope: per_rank}", "{segment_ids: false}",
        "{shrinkage_sample: shuffled}", "{evaluation_zeta: 0}", "{regularizer_layers: [2, last]}",
        "{regularizer_layers: last}"}) {
    SCOPED_TRACE(training);
    const SweepSpec sweep = Parse(
        absl::StrCat("name: n\nmodels: {m: /m}\ntasks: {sst2: /s}\ntraining: ", training,
                     "\ngrid: {regularizers: [baseline, {istar: {lambda: [1], zeta: [0.5]}}]}\n"));
    ASSERT_EQ(sweep.trials.size(), 2u);
    for (const TrialSpec& expanded : sweep.trials) {
      const absl::StatusOr<TrialSpec> read =
          TrialFromCanonicalJson(expanded.id, expanded.canonical_json);
      ASSERT_TRUE(read.ok()) << read.status();
      const TrainingSettings& want = expanded.training;
      const TrainingSettings& got = read->training;
      EXPECT_EQ(got.doc_stride, want.doc_stride);
      EXPECT_EQ(got.selection, want.selection);
      EXPECT_EQ(got.point_cloud_padding, want.point_cloud_padding);
      EXPECT_EQ(got.isotropy_scope, want.isotropy_scope);
      EXPECT_EQ(got.segment_ids, want.segment_ids);
      EXPECT_EQ(got.shrinkage_sample, want.shrinkage_sample);
      EXPECT_EQ(got.evaluation_zeta, want.evaluation_zeta);
      EXPECT_EQ(got.regularizer_layers, want.regularizer_layers);
    }
  }
}

TEST(TrialFromCanonicalJson, RefusesProtocolOptionsOfTheWrongTypeOrRange) {
  const std::string with_options = absl::StrReplaceAll(
      kIStarJson, {{R"("eval_every_steps":0,)",
                    R"("eval_every_steps":0,"evaluation_zeta":0.5,"isotropy_scope":"per_rank",)"}});
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(with_options, {{R"("per_rank")", R"("local")"}})),
              HasSubstr("unknown isotropy_scope 'local'"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(with_options, {{R"(:0.5,)", R"(:1.5,)"}})),
              HasSubstr("evaluation_zeta must be in [0, 1]"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson,
                                          {{R"("seed":0,)", R"("seed":0,"segment_ids":"no",)"}})),
              HasSubstr("key 'segment_ids' has the wrong type (string)"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(
          kIStarJson, {{R"("seed":0,)", R"("seed":0,"selection":{"fraction":1.0,"seed":1},)"}})),
      HasSubstr("selection.fraction must be in (0, 1)"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("regularizer_layers":[])",
                                                        R"("regularizer_layers":["first"])"}})),
              HasSubstr("neither an integer nor \"last\""));
  // Written with its default: no encoder writes that, so the text is not canonical.
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson,
                                          {{R"("seed":0,)", R"("seed":0,"segment_ids":true,)"}})),
              HasSubstr("not in canonical form"));
}

TEST(TrialFromCanonicalJson, RefusesTheScheduleOrClippingWrittenWithItsDefault) {
  // No encoder writes them with their defaults, so they do not re-encode to themselves (which is
  // checked before the id).
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(
          kIStarJson, {{R"("max_seq_length")", R"("lr_schedule":"linear","max_seq_length")"}})),
      HasSubstr("not in canonical form"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(
          kIStarJson, {{R"("max_seq_length")", R"("max_grad_norm":1.0,"max_seq_length")"}})),
      HasSubstr("not in canonical form"));
  // A value that prints differently: an integer where a double belongs.
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kClippedAtHalfJson,
                                          {{R"("max_grad_norm":0.5)", R"("max_grad_norm":2)"}}),
                      kClippedAtHalfId),
              HasSubstr("not in canonical form"));
}

TEST(TrialFromCanonicalJson, NamesABadScheduleOrClipping) {
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(kConstantUnclippedJson, {{R"("constant")", R"("cosine")"}}),
              kConstantUnclippedId),
      HasSubstr("unknown lr_schedule 'cosine'"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kConstantUnclippedJson,
                                          {{R"("lr_schedule":"constant")", R"("lr_schedule":1)"}}),
                      kConstantUnclippedId),
              HasSubstr("key 'lr_schedule' has the wrong type (number)"));
  for (const char* bad : {R"("none")", "0.0", "-1.0", "null", "[1.0]", "true"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kConstantUnclippedJson,
                                            {{R"("max_grad_norm":"off")",
                                              absl::StrCat(R"("max_grad_norm":)", bad)}}),
                        kConstantUnclippedId),
                HasSubstr("key 'max_grad_norm' is neither a number > 0 nor \"off\""));
  }
}

TEST(TrialFromCanonicalJson, RefusesAnotherTrialsId) {
  std::string other(kIStarId);
  other[0] = other[0] == '0' ? '1' : '0';
  EXPECT_THAT(ErrorOf(kIStarJson, other),
              HasSubstr("its SHA-256 is 6022d85f081a, not the trial id"));
}

TEST(TrialFromCanonicalJson, NamesAMissingOrMistypedKey) {
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("seed":0,)", ""}})),
              HasSubstr("missing key 'seed'"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("seed":0,)", R"("seed":"0",)"}})),
              HasSubstr("key 'seed' has the wrong type (string)"));
  // zeta is a parameter of istar's catalogue row.
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"(,"zeta":0.2)", ""}})),
              HasSubstr("missing key 'zeta'"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(
          kIStarJson, {{R"("regularizer_layers":[])", R"("regularizer_layers":[1.5])"}})),
      HasSubstr("regularizer_layers holds a value that is neither an integer nor \"last\""));
}

TEST(TrialFromCanonicalJson, RefusesTextThatIsNotCanonical) {
  // An extra key, a parameter istar does not have, an integer where a double belongs, spaces.
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("seed":0,)", R"("seed":0,"x":1,)"}})),
              HasSubstr("not in canonical form"));
  EXPECT_THAT(
      ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("epochs":4,)", R"("epochs":4,"gamma":1.0,)"}})),
      HasSubstr("not in canonical form"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("lambda":-5.0)", R"("lambda":-5)"}})),
              HasSubstr("not in canonical form"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("seed":0,)", R"("seed": 0,)"}})),
              HasSubstr("not in canonical form"));
}

TEST(TrialFromCanonicalJson, RefusesAnotherFormatOrAnUnknownRegularizer) {
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson, {{R"("format":1)", R"("format":2)"}})),
              HasSubstr("format 2, but this istar reads format 1"));
  EXPECT_THAT(ErrorOf(absl::StrReplaceAll(kIStarJson,
                                          {{R"("regularizer":"istar")", R"("regularizer":"x")"}})),
              HasSubstr("unknown regularizer 'x'"));
  EXPECT_THAT(ErrorOf("[1,2]"), HasSubstr("not a JSON object"));
  EXPECT_THAT(ErrorOf("{\"format\":1"), HasSubstr("not a JSON object"));
}

}  // namespace
}  // namespace istar::sweeps
