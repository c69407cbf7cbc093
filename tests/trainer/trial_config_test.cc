// LoadTrialConfig: a sweep file of exactly one trial, with --set style overrides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "trainer/trainer.h"

namespace istar::trainer {
namespace {

namespace fs = std::filesystem;

constexpr char kConfig[] = R"(name: one
models:
  m: /models/m
tasks:
  sst2: /data/sst2
grid:
  batch_size: [16]
  seed: [0, 1]
  regularizers:
    - baseline
)";

class TrialConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        (fs::temp_directory_path() /
         ("istar_trial_config_" +
          std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml"))
            .string();
    std::ofstream(path_) << kConfig;
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_;
};

TEST_F(TrialConfigTest, SeveralTrialsAreRejectedSayingHowMany) {
  absl::StatusOr<sweeps::TrialSpec> trial = LoadTrialConfig(path_);
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trial.status().message(), ::testing::HasSubstr("expands to 2"));
}

TEST_F(TrialConfigTest, ScalarOverrideOfAListAxisPicksOneTrial) {
  const std::vector<std::string> sets = {"grid.seed=1", "grid.batch_size=[8]",
                                         "training.max_seq_length=64"};
  absl::StatusOr<sweeps::TrialSpec> trial = LoadTrialConfig(path_, sets);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->seed, 1);
  EXPECT_EQ(trial->batch_size, 8);
  EXPECT_EQ(trial->training.max_seq_length, 64);
  EXPECT_EQ(trial->model_path, "/models/m");
}

TEST_F(TrialConfigTest, MalformedOverrideIsInvalidArgument) {
  for (const char* bad : {"grid.seed", "=3", "name.x=1"}) {
    const std::vector<std::string> sets = {"grid.seed=0", bad};
    EXPECT_EQ(LoadTrialConfig(path_, sets).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(TrialConfig, MissingFileIsNotFound) {
  EXPECT_EQ(LoadTrialConfig("/nonexistent/train.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace istar::trainer
