// The report's data and page, from a real SQLite file with known numbers written through the
// Store API; the expected values are computed by hand below.
#include "report/report.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "report/internal/assets.h"
#include "tests/db/test_util.h"

namespace istar::report {
namespace {

using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenReadOnly;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::ScratchDir;
using ::istar::db::testing::TrialArgs;
using nlohmann::json;

db::FinalResult Final(const std::string& name, double value) { return {"validation", name, value}; }

// Sweep "main", bert/sst2, 2 seeds per group:
//   trials 1, 2: baseline, accuracy 0.90, 0.92, cls_isoscore_star 0.10, 0.20;
//   trials 3, 4: istar lambda -1 zeta 0.2, accuracy 0.95, 0.97, cls_isoscore_star 0.5, 0.7
//     (the best istar group: mean 0.96, isotropy (0.5 + 0.7) / 2 = 0.6);
//   trials 5, 6: istar lambda 1 zeta 0.2, accuracy 0.80, 0.82;
//   trial 7: istar lambda 1 zeta 0.2 seed 2, failed "diverged: loss is NaN at step 3".
// Sweep "other": trial 8, baseline on qnli, accuracy 0.5.
// Isotropy rows of trial 3: layer -1 at steps 0 and 10 (0.25 / 0.05, 0.35 / 0.15), layer 1 at
// step 0 (not in the report's trajectories).
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<db::Store> store = OpenStore(path_);
    ASSERT_NE(store, nullptr);
    const TrialArgs good{.regularizer = "istar", .lambda = -1, .zeta = 0.2};
    const TrialArgs bad{.regularizer = "istar", .lambda = 1, .zeta = 0.2};
    std::vector<sweeps::TrialSpec> main = {
        MakeTrial(1, {.seed = 0}),       MakeTrial(2, {.seed = 1}),
        MakeTrial(3, WithSeed(good, 0)), MakeTrial(4, WithSeed(good, 1)),
        MakeTrial(5, WithSeed(bad, 0)),  MakeTrial(6, WithSeed(bad, 1)),
        MakeTrial(7, WithSeed(bad, 2)),
    };
    ids_.clear();
    for (const sweeps::TrialSpec& trial : main) ids_.push_back(trial.id);
    ASSERT_TRUE(store->SubmitSweep(MakeSweep("main", main)).ok());
    const sweeps::TrialSpec other = MakeTrial(8, {.task = "qnli", .seed = 0});
    ids_.push_back(other.id);
    ASSERT_TRUE(store->SubmitSweep(MakeSweep("other", {other})).ok());

    const std::vector<std::vector<db::FinalResult>> finals = {
        {Final("accuracy", 0.90), Final("cls_isoscore_star", 0.10)},
        {Final("accuracy", 0.92), Final("cls_isoscore_star", 0.20)},
        {Final("accuracy", 0.95), Final("cls_isoscore_star", 0.5),
         Final("cls_isoscore_star_layer_1", 0.4)},
        {Final("accuracy", 0.97), Final("cls_isoscore_star", 0.7)},
        {Final("accuracy", 0.80)},
        {Final("accuracy", 0.82)},
    };
    for (size_t i = 0; i < ids_.size(); ++i) {
      ASSERT_TRUE(store->MarkTrialRunning(ids_[i]).ok());
      if (i == 6) {
        ASSERT_TRUE(store->MarkTrialFailed(ids_[i], "diverged: loss is NaN at step 3").ok());
        continue;
      }
      ASSERT_TRUE(store->MarkTrialDone(ids_[i]).ok());
      ASSERT_TRUE(store
                      ->WriteFinalResults(ids_[i], i < finals.size()
                                                       ? finals[i]
                                                       : std::vector{Final("accuracy", 0.5)})
                      .ok());
    }
    const std::vector<db::IsotropyRow> rows = {
        {ids_[2], 0, 0.0, -1, 0.25, 0.05, 0.9, std::nullopt},
        {ids_[2], 10, 0.5, -1, 0.35, 0.15, 0.8, std::nullopt},
        {ids_[2], 0, 0.0, 1, 0.9, 0.9, 0.1, std::nullopt},
    };
    ASSERT_TRUE(store->WriteIsotropy(rows).ok());
  }

  static TrialArgs WithSeed(TrialArgs args, int64_t seed) {
    args.seed = seed;
    return args;
  }

  json Data(const ReportOptions& options) {
    std::unique_ptr<db::Store> store = OpenReadOnly(path_);
    EXPECT_NE(store, nullptr);
    absl::StatusOr<std::string> data = ReportData(*store, options);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? json::parse(*data) : json();
  }

  ScratchDir dir_;
  std::string path_ = dir_.Path("results.db");
  std::vector<std::string> ids_;
};

TEST_F(ReportTest, TheComparisonCellsCarryTheirTrialsAndTheirIsotropy) {
  const json data = Data({.sweeps = {"main"}});
  const json& comparison = data["comparison"];
  EXPECT_EQ(comparison["split"], "validation");
  EXPECT_EQ(comparison["regularizers"], json({"baseline", "istar"}));
  ASSERT_EQ(comparison["rows"].size(), 1u);
  const json& row = comparison["rows"][0];
  EXPECT_EQ(row["model"], "bert");
  EXPECT_EQ(row["task"], "sst2");
  EXPECT_EQ(row["metric"], "accuracy");
  const json& baseline = row["cells"][0];
  EXPECT_NEAR(baseline["mean"].get<double>(), 0.91, 1e-12);
  EXPECT_NEAR(baseline["isotropy"].get<double>(), 0.15, 1e-12);
  EXPECT_EQ(baseline["trial_ids"], json({ids_[0], ids_[1]}));
  const json& istar = row["cells"][1];
  EXPECT_EQ(istar["regularizer"], "istar");
  EXPECT_EQ(istar["lambda"], -1.0);
  EXPECT_NEAR(istar["mean"].get<double>(), 0.96, 1e-12);
  EXPECT_NEAR(istar["isotropy"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(istar["difference"].get<double>(), 0.05, 1e-12);
  EXPECT_EQ(istar["seeds"], 2);
  EXPECT_EQ(istar["groups"], 2);
  EXPECT_EQ(istar["trial_ids"], json({ids_[2], ids_[3]}));
}

TEST_F(ReportTest, EveryTrialIsListedWithItsStatusMetricAndIsotropyMeasures) {
  const json data = Data({.sweeps = {"main"}});
  const json& trials = data["trials"];
  ASSERT_EQ(trials.size(), 7u);  // sweep "other" left out
  std::map<std::string, json> by_id;
  for (const json& trial : trials) by_id[trial["id"]] = trial;
  const json& best = by_id.at(ids_[2]);
  EXPECT_EQ(best["status"], "done");
  EXPECT_EQ(best["attempts"], 1);
  EXPECT_EQ(best["metric_name"], "accuracy");
  EXPECT_NEAR(best["metric"].get<double>(), 0.95, 1e-12);
  // Only the isotropy measures: the task metric is `metric`.
  EXPECT_EQ(best["final"], json({{"cls_isoscore_star", 0.5}, {"cls_isoscore_star_layer_1", 0.4}}));
  const json& diverged = by_id.at(ids_[6]);
  EXPECT_EQ(diverged["status"], "failed");
  EXPECT_EQ(diverged["error"], "diverged: loss is NaN at step 3");
  EXPECT_TRUE(diverged["metric"].is_null());
  EXPECT_EQ(diverged["final"], json::object());
}

TEST_F(ReportTest, TrajectoriesAreTheUnionLayersRowsInStepOrder) {
  const json data = Data({});
  const json& trajectories = data["trajectories"];
  ASSERT_EQ(trajectories.size(), 1u);
  const json& rows = trajectories.at(ids_[2]);
  EXPECT_EQ(rows["step"], json({0, 10}));
  EXPECT_EQ(rows["isoscore_star"], json({0.25, 0.35}));
  EXPECT_EQ(rows["isoscore"], json({0.05, 0.15}));
  EXPECT_EQ(data["trials"].size(), 8u);
  EXPECT_EQ(data["title"], "istar report: results.db");
}

TEST_F(ReportTest, AnUnknownSweepIsNotFound) {
  std::unique_ptr<db::Store> store = OpenReadOnly(path_);
  ASSERT_NE(store, nullptr);
  const absl::StatusOr<std::string> data = ReportData(*store, {.sweeps = {"nope"}});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound) << data.status();
}

// The text between the data element's opening tag and the next "</script>".
std::string DataElement(const std::string& page) {
  const std::string open = R"(<script type="application/json" id="istar-data">)";
  const size_t begin = page.find(open);
  if (begin == std::string::npos) return "";
  const size_t start = begin + open.size();
  return page.substr(start, page.find("</script>", start) - start);
}

TEST(AssemblePage, InlinesEveryFileAndKeepsTheDataInsideItsElement) {
  const json data = {{"title", "a </script><script>alert(1)</script> <!-- <script> b"}, {"n", 1}};
  const std::string page = AssemblePage(data.dump());
  // No placeholder is left, and every file is there.
  EXPECT_EQ(page.find("@ISTAR_"), std::string::npos);
  EXPECT_NE(page.find(internal::kEchartsJs.substr(0, 200)), std::string::npos);
  EXPECT_NE(page.find(internal::kReportJs.substr(0, 200)), std::string::npos);
  EXPECT_NE(page.find(internal::kReportCss.substr(0, 200)), std::string::npos);
  // The data element ends where the data ends, and parses back to the same document.
  const std::string element = DataElement(page);
  EXPECT_EQ(element.find('<'), std::string::npos);
  EXPECT_EQ(json::parse(element), data);
  // Nothing is fetched: no script or style comes from elsewhere.
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
}

}  // namespace
}  // namespace istar::report
