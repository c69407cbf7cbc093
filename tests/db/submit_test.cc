// Submitting sweeps (new, repeated, overlapping) and the standalone trainer's state transitions.
#include <memory>
#include <string>
#include <vector>

#include "db/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/db/test_util.h"

namespace istar::db {
namespace {

using ::istar::db::testing::HexId;
using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::RawDb;
using ::istar::db::testing::ScratchDir;
using ::istar::db::testing::TrialArgs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class SubmitSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(path_);
    ASSERT_NE(store_, nullptr);
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  std::unique_ptr<Store> store_;
};

std::vector<sweeps::TrialSpec> Trials(std::initializer_list<int> numbers) {
  std::vector<sweeps::TrialSpec> trials;
  for (const int n : numbers) trials.push_back(MakeTrial(n, {.seed = n}));
  return trials;
}

TEST_F(SubmitSweepTest, AddsEveryTrialAsPendingAndLinksItToTheSweep) {
  absl::StatusOr<SubmitResult> result = store_->SubmitSweep(MakeSweep("first", Trials({1, 2, 3})));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sweep_id.size(), 64u);
  EXPECT_FALSE(result->sweep_was_present);
  EXPECT_EQ(result->trials_total, 3);
  EXPECT_EQ(result->trials_added, 3);
  EXPECT_EQ(result->trials_present, 0);

  absl::StatusOr<std::vector<TrialRecord>> trials = store_->ListTrials({.sweeps = {"first"}});
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 3u);
  for (const TrialRecord& trial : *trials) {
    EXPECT_EQ(trial.status, TrialStatus::kPending);
    EXPECT_EQ(trial.attempts, 0);
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials"), 3);
  EXPECT_EQ(raw.Int("SELECT trial_count FROM sweeps"), 3);
}

TEST_F(SubmitSweepTest, ResubmittingAddsNothingAndKeepsADoneTrialDone) {
  const sweeps::SweepSpec sweep = MakeSweep("again", Trials({1, 2, 3}));
  ASSERT_TRUE(store_->SubmitSweep(sweep).ok());
  ASSERT_TRUE(store_->MarkTrialRunning(HexId(2)).ok());
  ASSERT_TRUE(store_->MarkTrialDone(HexId(2)).ok());

  absl::StatusOr<SubmitResult> again = store_->SubmitSweep(sweep);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->sweep_was_present);
  EXPECT_EQ(again->trials_added, 0);
  EXPECT_EQ(again->trials_present, 3);
  EXPECT_EQ(again->trials_done, 1);
  absl::StatusOr<TrialRecord> done = store_->GetTrial(HexId(2));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, TrialStatus::kDone);
  EXPECT_EQ(done->attempts, 1);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweeps"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials"), 3);
}

TEST_F(SubmitSweepTest, ASecondSweepSharingTrialsLinksThemWithoutDuplicates) {
  absl::StatusOr<SubmitResult> a = store_->SubmitSweep(MakeSweep("a", Trials({1, 2, 3})));
  absl::StatusOr<SubmitResult> b = store_->SubmitSweep(MakeSweep("b", Trials({2, 3, 4})));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->sweep_id, b->sweep_id);
  EXPECT_EQ(b->trials_added, 1);
  EXPECT_EQ(b->trials_present, 2);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials"), 4);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials"), 6);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweep_trials WHERE trial_id = '" + HexId(2) + "'"), 2);

  absl::StatusOr<std::vector<TrialRecord>> in_b = store_->ListTrials({.sweeps = {"b"}});
  ASSERT_TRUE(in_b.ok()) << in_b.status();
  ASSERT_EQ(in_b->size(), 3u);
  EXPECT_EQ((*in_b)[0].id, HexId(2));
  absl::StatusOr<std::vector<TrialRecord>> by_id =
      store_->ListTrials({.sweeps = {a->sweep_id.substr(0, 8)}});
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->size(), 3u);
}

TEST_F(SubmitSweepTest, TheSweepIdDependsOnTheNameAndTrialsOnly) {
  sweeps::SweepSpec sweep = MakeSweep("same", Trials({1, 2}));
  absl::StatusOr<SubmitResult> first = store_->SubmitSweep(sweep);
  sweep.yaml += "# a comment\n";
  std::swap(sweep.trials[0], sweep.trials[1]);
  absl::StatusOr<SubmitResult> reordered = store_->SubmitSweep(sweep);
  sweep.name = "renamed";
  absl::StatusOr<SubmitResult> renamed = store_->SubmitSweep(sweep);
  ASSERT_TRUE(first.ok() && reordered.ok() && renamed.ok());
  EXPECT_EQ(first->sweep_id, reordered->sweep_id);
  EXPECT_TRUE(reordered->sweep_was_present);
  EXPECT_NE(first->sweep_id, renamed->sweep_id);
}

TEST_F(SubmitSweepTest, ATrialListedTwiceCountsOnce) {
  absl::StatusOr<SubmitResult> result =
      store_->SubmitSweep(MakeSweep("twice", {MakeTrial(1), MakeTrial(1), MakeTrial(2)}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->trials_total, 2);
  EXPECT_EQ(result->trials_added, 2);
}

TEST_F(SubmitSweepTest, AMalformedTrialIdIsInvalidArgument) {
  sweeps::TrialSpec trial = MakeTrial(1);
  trial.id = "ABC";
  const absl::Status status = store_->SubmitSweep(MakeSweep("bad", {trial})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'ABC'"));
  EXPECT_EQ(store_->SubmitSweep(MakeSweep("", Trials({1}))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SubmitSweepTest, AValueTheSchemaRejectsIsInvalidArgumentAndWritesNothing) {
  const absl::Status status =
      store_->SubmitSweep(MakeSweep("zero", {MakeTrial(1), MakeTrial(2, {.batch_size = 0})}))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("CHECK constraint failed"), HasSubstr("SQLITE_CONSTRAINT_CHECK"),
                    HasSubstr("INSERT INTO trials"), HasSubstr("trial 1"),
                    HasSubstr("db/internal/submit.cc:")));
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sweeps"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials"), 0);
}

// A clock that moves one millisecond each time it is read, so every stamp is distinct.
class TickingClock final : public Clock {
 public:
  Timestamp Now() const override { return Timestamp(std::chrono::milliseconds(++now_)); }

 private:
  mutable int64_t now_ = 1000;
};

class TrialTransitionsTest : public SubmitSweepTest {
 protected:
  void SetUp() override {
    store_ = OpenStore(path_, {.clock = &clock_});
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->SubmitSweep(MakeSweep("s", Trials({1}))).ok());
  }
  TickingClock clock_;
};

TEST_F(TrialTransitionsTest, RunningThenDoneRecordsTheAttempt) {
  absl::StatusOr<int64_t> attempt = store_->MarkTrialRunning(HexId(1));
  ASSERT_TRUE(attempt.ok()) << attempt.status();
  EXPECT_EQ(*attempt, 1);
  ASSERT_TRUE(store_->MarkTrialDone(HexId(1)).ok());
  absl::StatusOr<TrialRecord> trial = store_->GetTrial(HexId(1));
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->status, TrialStatus::kDone);
  ASSERT_TRUE(trial->started_at && trial->finished_at);
  EXPECT_LT(*trial->started_at, *trial->finished_at);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE attempt = 1 AND outcome = 'done' AND "
                    "ended_at IS NOT NULL"),
            1);
}

TEST_F(TrialTransitionsTest, ADoneTrialNeverRunsAgain) {
  ASSERT_TRUE(store_->MarkTrialRunning(HexId(1)).ok());
  ASSERT_TRUE(store_->MarkTrialDone(HexId(1)).ok());
  const absl::Status status = store_->MarkTrialRunning(HexId(1)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("is done"));
}

TEST_F(TrialTransitionsTest, AFailedTrialKeepsItsErrorUntilItRunsAgain) {
  ASSERT_TRUE(store_->MarkTrialRunning(HexId(1)).ok());
  ASSERT_TRUE(store_->MarkTrialFailed(HexId(1), "diverged: loss is NaN at step 812").ok());
  absl::StatusOr<TrialRecord> failed = store_->GetTrial(HexId(1));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, TrialStatus::kFailed);
  EXPECT_EQ(failed->error, "diverged: loss is NaN at step 812");

  absl::StatusOr<int64_t> retry = store_->MarkTrialRunning(HexId(1));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, 2);
  absl::StatusOr<TrialRecord> running = store_->GetTrial(HexId(1));
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->error, std::nullopt);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE outcome = 'failed' AND "
                    "error LIKE 'diverged%'"),
            1);
}

TEST_F(TrialTransitionsTest, RestartingARunningTrialAbandonsItsAttempt) {
  ASSERT_TRUE(store_->MarkTrialRunning(HexId(1)).ok());
  absl::StatusOr<int64_t> again = store_->MarkTrialRunning(HexId(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 2);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT outcome = 'abandoned' FROM attempts WHERE attempt = 1"), 1);
  EXPECT_EQ(raw.Int("SELECT outcome = 'running' FROM attempts WHERE attempt = 2"), 1);
}

TEST_F(TrialTransitionsTest, OnlyARunningTrialCanFinish) {
  EXPECT_EQ(store_->MarkTrialDone(HexId(1)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->MarkTrialFailed(HexId(1), "x").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrialTransitionsTest, AnUnknownTrialIsNotFound) {
  EXPECT_EQ(store_->MarkTrialRunning(HexId(99)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->MarkTrialDone(HexId(99)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTrial(HexId(99)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TrialTransitionsTest, ALeasedTrialBelongsToItsWorkerGroup) {
  RawDb(path_).Exec("UPDATE trials SET status = 'leased'");
  EXPECT_EQ(store_->MarkTrialRunning(HexId(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace istar::db
