// Reading sweep files from disk, and the example sweeps shipped in examples/.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"

namespace istar::sweeps {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::filesystem::path kExamples = std::filesystem::path(ISTAR_SOURCE_DIR) / "examples";

// A file under the temp directory, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("istar_sweeps_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml")) {
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(LoadSweepFile, MissingFileIsNotFoundNamingThePath) {
  const absl::StatusOr<SweepSpec> sweep = LoadSweepFile("/nonexistent/dir/sweep.yaml");
  ASSERT_FALSE(sweep.ok());
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(sweep.status().message()), StartsWith("/nonexistent/dir/sweep.yaml: "));
}

TEST(LoadSweepFile, DirectoryIsNotFound) {
  const absl::StatusOr<SweepSpec> sweep =
      LoadSweepFile(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(sweep.ok());
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(sweep.status().message()), HasSubstr("is a directory"));
}

TEST(LoadSweepFile, ReadsTheFileAndNamesItInErrors) {
  const std::string text =
      "name: disk\nmodels: {m: /m}\ntasks: {sst2: /s}\ngrid: {regularizers: [baseline]}\n";
  const TempFile good(text);
  const absl::StatusOr<SweepSpec> sweep = LoadSweepFile(good.path());
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->source, good.path());
  EXPECT_EQ(sweep->yaml, text);
  EXPECT_EQ(sweep->trials.size(), 1u);

  const TempFile bad("name: disk\nmodels: {m: /m}\ntasks: {sst2: /s}\ngrid: {regularizers: []}\n");
  const absl::StatusOr<SweepSpec> invalid = LoadSweepFile(bad.path());
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(invalid.status().message()),
              StartsWith(bad.path() + ":4:22: grid.regularizers: "));
}

// `--set training.lr_schedule=constant`, `--set training.max_grad_norm=off`: the overrides edit the
// YAML, which is re-emitted and parsed as a file would be.
TEST(LoadSweepText, OverridesSetTheScheduleAndClipping) {
  const TempFile file(
      "name: o\nmodels: {m: /m}\ntasks: {sst2: /s}\ntraining: {max_grad_norm: 2}\n"
      "grid: {regularizers: [baseline]}\n");
  const std::vector<std::string> published = {"training.lr_schedule=constant",
                                              "training.max_grad_norm=off"};
  const absl::StatusOr<std::string> text = LoadSweepText(file.path(), published);
  ASSERT_TRUE(text.ok()) << text.status();
  const absl::StatusOr<SweepSpec> sweep = ParseSweep(*text, file.path());
  ASSERT_TRUE(sweep.ok()) << sweep.status() << "\n" << *text;
  ASSERT_EQ(sweep->trials.size(), 1u);
  EXPECT_EQ(sweep->trials[0].training.lr_schedule, LrSchedule::kConstant);
  EXPECT_EQ(sweep->trials[0].training.max_grad_norm, std::nullopt);

  const std::vector<std::string> half = {"training.max_grad_norm=0.5"};
  const absl::StatusOr<std::string> half_text = LoadSweepText(file.path(), half);
  ASSERT_TRUE(half_text.ok()) << half_text.status();
  const absl::StatusOr<SweepSpec> half_sweep = ParseSweep(*half_text, file.path());
  ASSERT_TRUE(half_sweep.ok()) << half_sweep.status();
  EXPECT_EQ(half_sweep->trials.at(0).training.lr_schedule, LrSchedule::kLinear);
  EXPECT_EQ(half_sweep->trials.at(0).training.max_grad_norm, 0.5);

  const std::vector<std::string> bad = {"training.lr_schedule=cosine"};
  const absl::StatusOr<std::string> bad_text = LoadSweepText(file.path(), bad);
  ASSERT_TRUE(bad_text.ok()) << bad_text.status();
  const absl::StatusOr<SweepSpec> refused = ParseSweep(*bad_text, file.path());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("training.lr_schedule: expected one of linear, constant, got 'cosine'"));
}

TEST(ExampleSweeps, EveryExampleFileParses) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    const absl::StatusOr<SweepSpec> sweep = LoadSweepFile(entry.path().string());
    ASSERT_TRUE(sweep.ok()) << sweep.status();
    EXPECT_FALSE(sweep->trials.empty());
  }
  EXPECT_GE(files, 3);
}

// Note [Ids recorded before the catalogue]
// tests/sweeps/testdata/NAME.ids holds the 64-digit id of every trial of examples/NAME.yaml, in
// expansion order, as `istar sweep expand --json` printed them at commit 447d4e9, the last one
// before regularizers became catalogue rows. A trial's id is the key of its results in every
// database: the ids of a sweep must not change when istar learns a new regularizer or task.
// paper.ids alone was recorded again, by the same command, when examples/paper.yaml took the
// published protocol's settings (issue 16) and the CosReg files merged into it: its trials are
// other trials now, and their ids must hold from then on.
TEST(ExampleSweeps, TrialIdsAreThoseRecordedBeforeTheCatalogues) {
  const std::filesystem::path recorded =
      std::filesystem::path(ISTAR_SOURCE_DIR) / "tests" / "sweeps" / "testdata";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    std::ifstream ids(recorded / (entry.path().stem().string() + ".ids"));
    ASSERT_TRUE(ids) << "no recorded ids for this example: add them when adding an example";
    std::vector<std::string> expected;
    for (std::string id; std::getline(ids, id);) expected.push_back(id);
    const absl::StatusOr<SweepSpec> sweep = LoadSweepFile(entry.path().string());
    ASSERT_TRUE(sweep.ok()) << sweep.status();
    std::vector<std::string> actual;
    for (const TrialSpec& trial : sweep->trials) actual.push_back(trial.id);
    EXPECT_EQ(actual, expected);
    ++files;
  }
  EXPECT_EQ(files, 5);
}

std::map<std::string, int> Counts(const std::string& file) {
  const absl::StatusOr<SweepSpec> sweep = LoadSweepFile((kExamples / file).string());
  EXPECT_TRUE(sweep.ok()) << sweep.status();
  std::map<std::string, int> counts;
  if (sweep.ok()) {
    for (const TrialSpec& trial : sweep->trials) ++counts[trial.regularizer];
  }
  return counts;
}

TEST(ExampleSweeps, PaperSweepsFollowThePublishedProtocol) {
  // 3 models x 4 tasks x 5 seeds = 60 configurations each of baseline, of CosReg (lambda 1) and of
  // 6 x 4 I-STAR settings.
  EXPECT_EQ(Counts("paper.yaml"),
            (std::map<std::string, int>{{"baseline", 60}, {"cosreg", 60}, {"istar", 60 * 24}}));
  const absl::StatusOr<SweepSpec> sweep = LoadSweepFile((kExamples / "paper.yaml").string());
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  for (const TrialSpec& trial : sweep->trials) {
    SCOPED_TRACE(trial.id);
    // CosReg reads the last layer of whichever model it trains; I-STAR the union of every layer.
    if (trial.regularizer == "cosreg") {
      EXPECT_EQ(trial.training.regularizer_layers, (std::vector<int64_t>{kLastLayer}));
    } else {
      EXPECT_TRUE(trial.training.regularizer_layers.empty());
    }
    // SQuAD at the published 384 tokens and stride 128; the classification tasks at 256.
    if (trial.task == "squad") {
      EXPECT_EQ(trial.training.max_seq_length, 384);
      EXPECT_EQ(trial.training.doc_stride, std::optional<int64_t>(128));
    } else {
      EXPECT_EQ(trial.training.max_seq_length, 256);
    }
    EXPECT_EQ(trial.training.lr_schedule, LrSchedule::kConstant);
  }
}

}  // namespace
}  // namespace istar::sweeps
