// Every way a sweep file can be invalid, each with the exact message: where (line:column, 1-based),
// which field, and what was expected.
#include <string>

#include "catalog/catalog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/sweeps/test_util.h"

namespace istar::sweeps {
namespace {

using ::istar::sweeps::testing::ErrorOf;
using ::testing::StartsWith;

// Lines 1-3 of most documents below, so that line 4 onwards is the part under test.
constexpr char kHead[] =
    "name: t\n"
    "models: {bert: /ckpt/bert, distilbert: /ckpt/distilbert}\n"
    "tasks: {sst2: /data/sst2}\n";

// One invalid line and the message it must produce.
struct Case {
  std::string line;
  std::string message;
};

void ExpectErrors(const std::string& before, const std::string& after,
                  const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(ErrorOf(before + c.line + "\n" + after), c.message);
  }
}

TEST(SweepValidation, MalformedYamlReportsYamlCppPositionOneBased) {
  EXPECT_THAT(ErrorOf("name: t\nmodels: {bert: [/ckpt\n"),
              StartsWith("sweep.yaml:3:1: malformed YAML: "));
  EXPECT_EQ(ErrorOf("name: t\n  models: x\n"), "sweep.yaml:2:9: malformed YAML: illegal map value");
}

TEST(SweepValidation, DocumentMustBeAMapWithTheKnownKeys) {
  const std::string expected =
      "expected a map with the keys name, models, tasks, training, grid, "
      "sample, launch, got ";
  EXPECT_EQ(ErrorOf(""), "sweep.yaml:1:1: " + expected + "nothing");
  EXPECT_EQ(ErrorOf("# only a comment\n"), "sweep.yaml:1:1: " + expected + "nothing");
  EXPECT_EQ(ErrorOf("- name: t\n"), "sweep.yaml:1:1: " + expected + "a list");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "grid: {regularizers: [baseline]}\nsampel: {count: 2}\n"),
            "sweep.yaml:5:1: sampel: unknown key 'sampel'; allowed keys are name, models, tasks, "
            "training, grid, sample, launch");
}

TEST(SweepValidation, MissingRequiredKeyPointsAtTheMapThatLacksIt) {
  EXPECT_EQ(ErrorOf("name: t\nmodels: {bert: /b}\ngrid: {regularizers: [baseline]}\n"),
            "sweep.yaml:1:1: missing required key 'tasks'");
  EXPECT_EQ(ErrorOf(std::string(kHead)), "sweep.yaml:1:1: missing required key 'grid'");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "grid:\n  seed: [1]\n"),
            "sweep.yaml:5:3: grid: missing required key 'regularizers'");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "grid:\n  regularizers:\n    - istar: {lambda: [1]}\n"),
            "sweep.yaml:6:14: grid.regularizers[0].istar: missing required key 'zeta'");
}

TEST(SweepValidation, NameMustBeANonEmptyString) {
  const std::string rest =
      "models: {bert: /b}\ntasks: {sst2: /d}\ngrid: {regularizers: [baseline]}\n";
  EXPECT_EQ(ErrorOf("name: ''\n" + rest),
            "sweep.yaml:1:7: name: expected a non-empty string, got the quoted string ''");
  EXPECT_EQ(ErrorOf("name:\n" + rest),
            "sweep.yaml:1:1: name: expected a non-empty string, got nothing");
  EXPECT_EQ(ErrorOf("name: [a]\n" + rest),
            "sweep.yaml:1:7: name: expected a non-empty string, got a list");
}

TEST(SweepValidation, DuplicateKeysAreRejectedInEveryMap) {
  EXPECT_EQ(ErrorOf(std::string(kHead) + "name: u\ngrid: {regularizers: [baseline]}\n"),
            "sweep.yaml:4:1: name: duplicate key 'name' (first given at 1:1)");
  EXPECT_EQ(ErrorOf("name: t\nmodels:\n  bert: /a\n  bert: /b\n"),
            "sweep.yaml:4:3: models.bert: duplicate key 'bert' (first given at 3:3)");
  EXPECT_EQ(ErrorOf(std::string(kHead) +
                    "grid:\n  regularizers:\n    - istar: {lambda: [1], zeta: [0], lambda: [2]}\n"),
            "sweep.yaml:6:39: grid.regularizers[0].istar.lambda: duplicate key 'lambda' (first "
            "given at 6:15)");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "training: {precision: bf16, precision: fp16}\n"),
            "sweep.yaml:4:29: training.precision: duplicate key 'precision' (first given at 4:12)");
}

TEST(SweepValidation, ModelsAndTasksMapNamesToFolders) {
  const std::string grid = "grid: {regularizers: [baseline]}\n";
  ExpectErrors("name: t\n", "tasks: {sst2: /d}\n" + grid,
               {{"models: [bert]", "sweep.yaml:2:9: models: expected a map, got a list"},
                {"models: {}",
                 "sweep.yaml:2:9: models: expected at least one `model: checkpoint folder` entry"},
                {"models: {bert: [a]}",
                 "sweep.yaml:2:16: models.bert: expected a non-empty string, got a list"},
                {"models: {bert: }",
                 "sweep.yaml:2:10: models.bert: expected a non-empty string, "
                 "got nothing"}});
  ExpectErrors(
      "name: t\nmodels: {bert: /b}\n", grid,
      {{"tasks: {imdb: /data}",
        "sweep.yaml:3:9: tasks.imdb: unknown task 'imdb'; expected one of " + catalog::TaskNames()},
       {"tasks: {}", "sweep.yaml:3:8: tasks: expected at least one `task: data folder` entry"}});
}

TEST(SweepValidation, ThePublishedProtocolsOptionsAreChecked) {
  ExpectErrors(
      std::string(kHead) + "training:\n", "grid: {regularizers: [baseline]}\n",
      {{"  doc_stride: 0", "sweep.yaml:5:15: training.doc_stride: expected an integer >= 1, got 0"},
       {"  selection: {fraction: 1, seed: 3}",
        "sweep.yaml:5:25: training.selection.fraction: expected a number in (0, 1), got 1"},
       {"  selection: {fraction: 0, seed: 3}",
        "sweep.yaml:5:25: training.selection.fraction: expected a number in (0, 1), got 0"},
       {"  selection: {fraction: 0.5}",
        "sweep.yaml:5:14: training.selection: missing required key 'seed'"},
       {"  selection: {fraction: 0.5, seed: -1}",
        "sweep.yaml:5:36: training.selection.seed: expected an integer >= 0, got -1"},
       {"  selection: {fraction: 0.5, seed: 1, size: 3}",
        "sweep.yaml:5:39: training.selection.size: unknown key 'size'; allowed keys are "
        "fraction, seed"},
       {"  point_cloud_padding: some",
        "sweep.yaml:5:24: training.point_cloud_padding: expected one of exclude, include, got "
        "'some'"},
       {"  isotropy_scope: local",
        "sweep.yaml:5:19: training.isotropy_scope: expected one of global, per_rank, got "
        "'local'"},
       {"  segment_ids: maybe",
        "sweep.yaml:5:16: training.segment_ids: expected true or false, got 'maybe'"},
       {"  shrinkage_sample: random",
        "sweep.yaml:5:21: training.shrinkage_sample: expected one of first, shuffled, got "
        "'random'"},
       {"  evaluation_zeta: 1.5",
        "sweep.yaml:5:20: training.evaluation_zeta: expected a number in [0, 1], got 1.5"}});
}

// docs/sweep-format.md, "Settings per model and per task".
TEST(SweepValidation, ModelAndTaskEntriesHoldAPathAndTheirOwnSettings) {
  const std::string grid = "grid: {regularizers: [baseline]}\n";
  ExpectErrors(
      "name: t\nmodels: {bert: /b}\n", grid,
      {{"tasks: {squad: {max_seq_length: 384}}",
        "sweep.yaml:3:16: tasks.squad: missing required key 'path'"},
       {"tasks: {squad: {path: /q, max_seq_length: 0}}",
        "sweep.yaml:3:43: tasks.squad.max_seq_length: expected an integer >= 1, got 0"},
       {"tasks: {squad: {path: /q, ranks_per_trial: 2}}",
        "sweep.yaml:3:27: tasks.squad.ranks_per_trial: unknown key 'ranks_per_trial'; allowed "
        "keys are path, max_seq_length, warmup_ratio, weight_decay, precision, eval_every_steps, "
        "isotropy_every_steps, regularizer_layers, shrinkage_points, gradient_accumulation_steps, "
        "lr_schedule, max_grad_norm, doc_stride, selection, point_cloud_padding, isotropy_scope, "
        "segment_ids, shrinkage_sample"},
       {"tasks: {squad: {path: ''}}",
        "sweep.yaml:3:23: tasks.squad.path: expected a non-empty string, got the quoted string "
        "''"}});
  ExpectErrors("name: t\n", "tasks: {sst2: /d}\n" + grid,
               {{"models: {bert: {path: /b, doc_stride: 64}}",
                 "sweep.yaml:2:27: models.bert.doc_stride: unknown key 'doc_stride'; allowed keys "
                 "are path, max_seq_length, warmup_ratio, weight_decay, precision, "
                 "eval_every_steps, isotropy_every_steps, regularizer_layers, shrinkage_points, "
                 "gradient_accumulation_steps, lr_schedule, max_grad_norm, selection, "
                 "point_cloud_padding, isotropy_scope, segment_ids, shrinkage_sample"},
                {"models: {bert: {path: /b, evaluation_zeta: 0.5}}",
                 "sweep.yaml:2:27: models.bert.evaluation_zeta: unknown key 'evaluation_zeta'; "
                 "allowed keys are path, max_seq_length, warmup_ratio, weight_decay, precision, "
                 "eval_every_steps, isotropy_every_steps, regularizer_layers, shrinkage_points, "
                 "gradient_accumulation_steps, lr_schedule, max_grad_norm, selection, "
                 "point_cloud_padding, isotropy_scope, segment_ids, shrinkage_sample"}});
}

TEST(SweepValidation, TrainingSettingsAreCheckedAgainstTheirRanges) {
  ExpectErrors(
      std::string(kHead) + "training:\n", "grid: {regularizers: [baseline]}\n",
      {{"  max_seq_length: 0",
        "sweep.yaml:5:19: training.max_seq_length: expected an integer >= 1, got 0"},
       {"  max_seq_length: 12.5",
        "sweep.yaml:5:19: training.max_seq_length: expected an integer >= 1, got '12.5'"},
       {"  max_seq_length: [256]",
        "sweep.yaml:5:19: training.max_seq_length: expected an integer >= 1, got a list"},
       {"  warmup_ratio: 1.5",
        "sweep.yaml:5:17: training.warmup_ratio: expected a number in [0, 1], got 1.5"},
       {"  weight_decay: -0.1",
        "sweep.yaml:5:17: training.weight_decay: expected a number >= 0, got -0.1"},
       {"  precision: fp8",
        "sweep.yaml:5:14: training.precision: expected one of fp32, bf16, fp16, got 'fp8'"},
       {"  eval_every_steps: -1",
        "sweep.yaml:5:21: training.eval_every_steps: expected an integer >= 0, got -1"},
       {"  isotropy_every_steps: 0",
        "sweep.yaml:5:25: training.isotropy_every_steps: expected an integer >= 1, got 0"},
       {"  regularizer_layers: [1, 0]",
        "sweep.yaml:5:27: training.regularizer_layers[1]: expected a layer number >= 1 or `last`, "
        "got '0'"},
       {"  regularizer_layers: [last, first]",
        "sweep.yaml:5:30: training.regularizer_layers[1]: expected a layer number >= 1 or `last`, "
        "got 'first'"},
       {"  regularizer_layers: [last, 3, last]",
        "sweep.yaml:5:33: training.regularizer_layers[2]: layer `last` is listed twice"},
       {"  regularizer_layers: [2, 2]",
        "sweep.yaml:5:27: training.regularizer_layers[1]: layer 2 is listed twice"},
       {"  regularizer_layers: []",
        "sweep.yaml:5:23: training.regularizer_layers: expected a non-empty list of layer "
        "numbers, got an empty list"},
       {"  shrinkage_points: 1",
        "sweep.yaml:5:21: training.shrinkage_points: expected an integer >= 2, got 1"},
       {"  ranks_per_trial: 0",
        "sweep.yaml:5:20: training.ranks_per_trial: expected an integer >= 1, got 0"},
       {"  gradient_accumulation_steps: 0",
        "sweep.yaml:5:32: training.gradient_accumulation_steps: expected an integer >= 1, got 0"},
       {"  lr_schedule: cosine",
        "sweep.yaml:5:16: training.lr_schedule: expected one of linear, constant, got 'cosine'"},
       {"  lr_schedule: [constant]",
        "sweep.yaml:5:16: training.lr_schedule: expected a string, got a list"},
       {"  max_grad_norm: 0",
        "sweep.yaml:5:18: training.max_grad_norm: expected a number > 0 or off, got 0"},
       {"  max_grad_norm: -1.5",
        "sweep.yaml:5:18: training.max_grad_norm: expected a number > 0 or off, got -1.5"},
       {"  max_grad_norm: none",
        "sweep.yaml:5:18: training.max_grad_norm: expected a number > 0 or off, got 'none'"},
       {"  max_grad_norm: false",
        "sweep.yaml:5:18: training.max_grad_norm: expected a number > 0 or off, got 'false'"},
       {"  max_grad_norm: '1.0'",
        "sweep.yaml:5:18: training.max_grad_norm: expected a number > 0 or off, got the quoted "
        "string '1.0'"},
       {"  max_grad_norm:",
        "sweep.yaml:5:3: training.max_grad_norm: expected a number > 0 or off, got nothing"},
       {"  max_seq_len: 128",
        "sweep.yaml:5:3: training.max_seq_len: unknown key 'max_seq_len'; allowed keys are "
        "max_seq_length, warmup_ratio, weight_decay, precision, eval_every_steps, "
        "isotropy_every_steps, regularizer_layers, shrinkage_points, ranks_per_trial, "
        "gradient_accumulation_steps, lr_schedule, max_grad_norm, doc_stride, selection, "
        "point_cloud_padding, isotropy_scope, segment_ids, shrinkage_sample, evaluation_zeta"}});
}

TEST(SweepValidation, SharedGridAxesAreCheckedValueByValue) {
  ExpectErrors(
      std::string(kHead) + "grid:\n  regularizers: [baseline]\n", "",
      {{"  batch_size: [0]",
        "sweep.yaml:6:16: grid.batch_size[0]: expected an integer >= 1, got 0"},
       {"  batch_size: [32.0]",
        "sweep.yaml:6:16: grid.batch_size[0]: expected an integer >= 1, got '32.0'"},
       {"  epochs: 0", "sweep.yaml:6:11: grid.epochs: expected an integer >= 1, got 0"},
       {"  learning_rate: [1e-5, 0]",
        "sweep.yaml:6:25: grid.learning_rate[1]: expected a number > 0, got 0"},
       {"  learning_rate: ['1e-5']",
        "sweep.yaml:6:19: grid.learning_rate[0]: expected a number "
        "> 0, got the quoted string '1e-5'"},
       {"  learning_rate: [.inf]",
        "sweep.yaml:6:19: grid.learning_rate[0]: expected a number > 0, got '.inf'"},
       {"  seed: []",
        "sweep.yaml:6:9: grid.seed: expected a non-empty list of integers, got an empty list"},
       {"  seed:", "sweep.yaml:6:3: grid.seed: expected a non-empty list of integers, got nothing"},
       {"  seed: [1.5]", "sweep.yaml:6:10: grid.seed[0]: expected an integer, got '1.5'"},
       {"  seed: {uniform: [0, 9]}",
        "sweep.yaml:6:9: grid.seed: distributions need a `sample:` section"},
       {"  sed: [1]",
        "sweep.yaml:6:3: grid.sed: unknown key 'sed'; allowed keys are model, task, "
        "regularizers, learning_rate, batch_size, epochs, seed"}});
}

TEST(SweepValidation, GridModelsAndTasksMustBeDefinedAbove) {
  ExpectErrors(std::string(kHead) + "grid:\n  regularizers: [baseline]\n", "",
               {{"  model: [gpt2]",
                 "sweep.yaml:6:11: grid.model[0]: unknown model 'gpt2'; models "
                 "defines bert, distilbert"},
                {"  model: [bert, [distilbert]]",
                 "sweep.yaml:6:17: grid.model[1]: expected a non-empty string, got a list"},
                {"  task: [qnli]",
                 "sweep.yaml:6:10: grid.task[0]: unknown task 'qnli'; tasks defines sst2"}});
}

TEST(SweepValidation, RegularizerEntriesAreANameOrAOneKeyMap) {
  // The names come from the catalogue, so that adding a regularizer changes no test here.
  const std::string names = catalog::RegularizerNames();
  ASSERT_THAT(names, StartsWith("baseline, cosreg, istar, "));
  ExpectErrors(
      std::string(kHead) + "grid:\n  regularizers:\n", "",
      {{"    - l2",
        "sweep.yaml:6:7: grid.regularizers[0]: unknown regularizer 'l2'; expected one of " + names},
       {"    - l2: {lambda: [1]}",
        "sweep.yaml:6:7: grid.regularizers[0]: unknown regularizer 'l2'; expected one of " + names},
       {"    - {cosreg: {lambda: [1]}, istar: {lambda: [1], zeta: [0]}}",
        "sweep.yaml:6:7: grid.regularizers[0]: expected a regularizer name or a map with one key "
        "(" +
            names + "), got a map with 2 keys"},
       {"    - [baseline]",
        "sweep.yaml:6:7: grid.regularizers[0]: expected a regularizer name or a map with one key "
        "(" +
            names + "), got a list"},
       {"    - baseline: {lambda: [1]}",
        "sweep.yaml:6:17: grid.regularizers[0].baseline: baseline "
        "has no settings (it has no parameters, not even lambda)"},
       {"    - vicreg: {lambda: [1], gamma: [0]}",
        "sweep.yaml:6:37: grid.regularizers[0].vicreg.gamma[0]: expected a number > 0, got 0"},
       {"    - sigreg: {gamma: [1]}",
        "sweep.yaml:6:16: grid.regularizers[0].sigreg.gamma: unknown key 'gamma'; allowed keys "
        "are lambda, regularizer_layers"},
       {"    - uniformity: {t: [2]}",
        "sweep.yaml:6:19: grid.regularizers[0].uniformity: missing required key 'lambda'"},
       {"    - cosreg",
        "sweep.yaml:6:7: grid.regularizers[0].cosreg: missing required key "
        "'lambda'"},
       {"    - cosreg: {lambda: [1], zeta: [0.5]}",
        "sweep.yaml:6:29: grid.regularizers[0].cosreg.zeta: unknown key 'zeta'; allowed keys are "
        "lambda, regularizer_layers"},
       {"    - istar: {lambda: [1], zeta: [0.2, 1.5]}",
        "sweep.yaml:6:40: grid.regularizers[0].istar.zeta[1]: expected a number in [0, 1], got "
        "1.5"},
       {"    - istar: {lambda: [1], zeta: [-0.1]}",
        "sweep.yaml:6:35: grid.regularizers[0].istar.zeta[0]: expected a number in [0, 1], got "
        "-0.1"},
       {"    - istar: {lambda: [abc], zeta: [0]}",
        "sweep.yaml:6:24: grid.regularizers[0].istar.lambda[0]: expected a number, got 'abc'"}});
  EXPECT_EQ(ErrorOf(std::string(kHead) + "grid:\n  regularizers: []\n"),
            "sweep.yaml:5:17: grid.regularizers: expected a non-empty list of regularizers, got an "
            "empty list");
}

TEST(SweepValidation, BlockStyleErrorsPointAtTheValue) {
  const std::string yaml = std::string(kHead) +
                           "grid:\n"                 // 4
                           "  regularizers:\n"       // 5
                           "    - baseline\n"        // 6
                           "    - istar:\n"          // 7
                           "        lambda: [-5]\n"  // 8
                           "        zeta:\n"         // 9
                           "          - 1.5\n";      // 10
  EXPECT_EQ(ErrorOf(yaml),
            "sweep.yaml:10:13: grid.regularizers[1].istar.zeta[0]: expected a number in [0, 1], "
            "got 1.5");
}

TEST(SweepValidation, DistributionsAreCheckedWhenSampling) {
  ExpectErrors(
      std::string(kHead) + "grid:\n  regularizers: [baseline]\n", "sample: {count: 5}\n",
      {{"  seed: {uniform: [5, 5]}",
        "sweep.yaml:6:19: grid.seed.uniform: expected low < high, got [5, 5]"},
       {"  seed: {uniform: [1]}",
        "sweep.yaml:6:19: grid.seed.uniform: expected [low, high], got "
        "a list"},
       {"  seed: {log_uniform: [1, 5]}",
        "sweep.yaml:6:10: grid.seed.log_uniform: unknown key "
        "'log_uniform'; allowed keys are uniform, choice"},
       {"  seed: {uniform: [0, 9], choice: [1]}",
        "sweep.yaml:6:9: grid.seed: expected one key (uniform, choice), got 2"},
       {"  model: {uniform: [a, b]}",
        "sweep.yaml:6:11: grid.model.uniform: unknown key "
        "'uniform'; allowed keys are choice"},
       {"  learning_rate: {uniform: [0, 1e-4]}",
        "sweep.yaml:6:29: grid.learning_rate.uniform[0]: expected a number > 0, got 0"},
       {"  batch_size: {choice: []}",
        "sweep.yaml:6:24: grid.batch_size.choice: expected a non-empty list of integers, got an "
        "empty list"}});
  EXPECT_EQ(
      ErrorOf(std::string(kHead) + "grid:\n  regularizers:\n"
                                   "    - istar: {lambda: {log_uniform: [-1, 1]}, zeta: [0]}\n"
                                   "sample: {count: 5}\n"),
      "sweep.yaml:6:37: grid.regularizers[0].istar.lambda.log_uniform: log_uniform bounds "
      "must be non-zero and of one sign, got [-1, 1]");
}

TEST(SweepValidation, SampleSectionNeedsACountInRange) {
  ExpectErrors(std::string(kHead) + "grid: {regularizers: [baseline]}\n", "",
               {{"sample: {count: 0}",
                 "sweep.yaml:5:17: sample.count: expected an integer in [1, 1000000], got 0"},
                {"sample: {seed: 3}", "sweep.yaml:5:9: sample: missing required key 'count'"},
                {"sample: {count: 3, sed: 1}",
                 "sweep.yaml:5:20: sample.sed: unknown key 'sed'; allowed keys are count, seed"},
                {"sample: 3", "sweep.yaml:5:9: sample: expected a map, got '3'"}});
}

TEST(SweepValidation, GridLargerThanAMillionTrialsIsRejectedBeforeExpansion) {
  std::string seeds, rates;
  for (int i = 0; i < 1001; ++i) seeds += (i ? ", " : "") + std::to_string(i);
  for (int i = 1; i <= 1000; ++i) rates += (i > 1 ? ", " : "") + std::to_string(i) + "e-6";
  EXPECT_EQ(ErrorOf(std::string(kHead) + "grid:\n  regularizers: [baseline]\n  seed: [" + seeds +
                    "]\n  learning_rate: [" + rates + "]\n  model: [bert]\n"),
            "sweep.yaml:5:3: grid: the grid has 1001000 trials, more than the 1000000 a sweep may "
            "have; split it or use `sample:`");
}

TEST(SweepValidation, TextThatIsNotUtf8IsRejectedWithItsPosition) {
  EXPECT_EQ(ErrorOf("name: t\nmodels: {bert: /ckpt/b\xe9rt}\n"),
            "sweep.yaml:2:23: the file is not valid UTF-8 (byte 0xe9)");
}

TEST(SweepValidation, ErrorsUseTheSourceName) {
  const absl::StatusOr<SweepSpec> sweep = ParseSweep("name: [", "configs/my sweep.yaml");
  ASSERT_FALSE(sweep.ok());
  EXPECT_THAT(std::string(sweep.status().message()), StartsWith("configs/my sweep.yaml:"));
}

}  // namespace
}  // namespace istar::sweeps
