// The coordinator's lease operations: workers, leasing, heartbeats, fencing, expiry, failure,
// completion, cancellation and sweep progress, on real SQLite files with a FakeClock.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "db/internal/operations.h"
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
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr LeasePolicy kPolicy{.ttl = seconds(30), .max_attempts = 3, .quarantine_after = 3};

int64_t Millis(Timestamp time) { return time.time_since_epoch().count(); }

// Trials with ids HexId(n) for n in `numbers`, in that order, run by groups of `ranks`.
std::vector<sweeps::TrialSpec> Trials(std::initializer_list<int> numbers, int64_t ranks = 1) {
  std::vector<sweeps::TrialSpec> trials;
  for (const int n : numbers) {
    trials.push_back(MakeTrial(n, {.seed = n}));
    trials.back().training.ranks_per_trial = ranks;
  }
  return trials;
}

class LeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(path_, {.clock = &clock_});
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->RegisterWorker("w1", "host-1").ok());
    ASSERT_TRUE(store_->RegisterWorker("w2", "host-2").ok());
  }

  void Submit(const std::string& name, std::vector<sweeps::TrialSpec> trials) {
    ASSERT_TRUE(store_->SubmitSweep(MakeSweep(name, std::move(trials))).ok());
  }

  // Leases a trial to `worker`, which must get one.
  Lease MustLease(const std::string& worker, const LeasePolicy& policy = kPolicy) {
    absl::StatusOr<std::optional<Lease>> lease = store_->LeaseTrial(worker, 1, policy);
    EXPECT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease.ok() && lease->has_value());
    return lease.ok() && lease->has_value() ? **lease : Lease{};
  }

  TrialStatus StatusOf(const std::string& trial_id) {
    absl::StatusOr<TrialRecord> trial = store_->GetTrial(trial_id);
    EXPECT_TRUE(trial.ok()) << trial.status();
    return trial.ok() ? trial->status : TrialStatus::kPending;
  }

  WorkerRecord Worker(const std::string& id) {
    absl::StatusOr<std::vector<WorkerRecord>> workers = store_->ListWorkers();
    EXPECT_TRUE(workers.ok()) << workers.status();
    for (const WorkerRecord& worker : workers.ok() ? *workers : std::vector<WorkerRecord>{}) {
      if (worker.id == id) return worker;
    }
    ADD_FAILURE() << "no worker " << id;
    return {};
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(LeasesTest, WorkersAreRegisteredListedAndReleasedFromQuarantine) {
  const Timestamp registered = clock_.Now();
  clock_.Advance(seconds(5));
  absl::StatusOr<WorkerRecord> again = store_->RegisterWorker("w1", "host-1b");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->registered_at, registered);
  EXPECT_EQ(again->last_seen_at, clock_.Now());
  EXPECT_EQ(again->host, "host-1b");

  absl::StatusOr<WorkerRecord> a = store_->RegisterWorker("a0", "host-0");
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::vector<WorkerRecord>> workers = store_->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  ASSERT_EQ(workers->size(), 3u);
  EXPECT_EQ((*workers)[0].id, "a0");
  EXPECT_EQ((*workers)[2].id, "w2");

  RawDb(path_).Exec("UPDATE workers SET quarantined = 1, consecutive_failures = 3 WHERE id = 'w1'");
  ASSERT_TRUE(store_->RegisterWorker("w1", "host-1").ok());
  EXPECT_TRUE(Worker("w1").quarantined);  // registering again does not clear it
  ASSERT_TRUE(store_->ReleaseQuarantine("w1").ok());
  EXPECT_FALSE(Worker("w1").quarantined);
  EXPECT_EQ(Worker("w1").consecutive_failures, 0);

  const absl::Status unknown = store_->ReleaseQuarantine("nobody");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("worker 'nobody'"));
  EXPECT_EQ(store_->RegisterWorker("", "h").status().code(), absl::StatusCode::kInvalidArgument);
}

// Note [Lease ids a group proposes]: a request tried again because its answer was lost gets the
// lease that answer carried, not a second trial; the first would wait a TTL for its expiry.
TEST_F(LeasesTest, ALeaseRequestTriedAgainGetsTheLeaseItsLostAnswerCarried) {
  Submit("retry", Trials({1, 2}));
  absl::StatusOr<std::string> id = NewLeaseId();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(*id, ::testing::MatchesRegex("[0-9a-f]{32}"));
  absl::StatusOr<std::optional<Lease>> first = store_->LeaseTrial("w1", 1, kPolicy, *id);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->lease_id, *id);  // the proposed id is the lease's

  clock_.Advance(seconds(10));  // the answer is lost; the group tries again later
  absl::StatusOr<std::optional<Lease>> again = store_->LeaseTrial("w1", 1, kPolicy, *id);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->trial_id, (*first)->trial_id);
  EXPECT_EQ((*again)->lease_id, *id);
  EXPECT_EQ((*again)->attempt, 1);
  EXPECT_EQ((*again)->fencing_token, (*first)->fencing_token);
  EXPECT_EQ((*again)->canonical_json, (*first)->canonical_json);
  EXPECT_EQ((*again)->expires_at, clock_.Now() + kPolicy.ttl);  // renewed, as by a heartbeat
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(raw.Int("SELECT lease_expires_at FROM trials WHERE status = 'leased'"),
            Millis(clock_.Now() + kPolicy.ttl));
  EXPECT_EQ(StatusOf(HexId(2)), TrialStatus::kPending);  // no second trial leased
  EXPECT_EQ(Worker("w1").last_seen_at, clock_.Now());
  // The lease works as any other: its reports are accepted.
  EXPECT_TRUE(store_->Heartbeat((*first)->trial_id, (*first)->fencing_token, kPolicy).ok());
}

// A proposed id is given again only to the worker that holds a live lease of it: another
// worker's try, or a try after that lease ended, gets a new lease with an id of the store's.
TEST_F(LeasesTest, AProposedIdOfAnotherWorkerOrOfAnEndedLeaseIsNotReused) {
  Submit("ids", Trials({1, 2, 3}));
  const std::string id = *NewLeaseId();
  const Lease mine = **store_->LeaseTrial("w1", 1, kPolicy, id);
  const absl::StatusOr<std::optional<Lease>> theirs = store_->LeaseTrial("w2", 1, kPolicy, id);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_TRUE(theirs->has_value());
  EXPECT_NE((*theirs)->trial_id, mine.trial_id);
  EXPECT_NE((*theirs)->lease_id, id);
  EXPECT_THAT((*theirs)->lease_id, ::testing::MatchesRegex("[0-9a-f]{32}"));
  // Another number of ranks is another request: nothing of 2 ranks is pending.
  const absl::StatusOr<std::optional<Lease>> pair = store_->LeaseTrial("w1", 2, kPolicy, id);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_FALSE(pair->has_value());

  // The lease expires; the same id then gets the next trial, under a new id.
  clock_.Advance(kPolicy.ttl + seconds(1));
  const absl::StatusOr<std::optional<Lease>> after = store_->LeaseTrial("w1", 1, kPolicy, id);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_TRUE(after->has_value());
  EXPECT_NE((*after)->lease_id, id);
  EXPECT_EQ(RawDb(path_).Int("SELECT count(*) FROM attempts WHERE lease_id = '" + id + "'"), 1);
  EXPECT_EQ(RawDb(path_).Int("SELECT count(*) FROM attempts WHERE trial_id = '" + mine.trial_id +
                             "' AND outcome = 'expired'"),
            1);
}

TEST_F(LeasesTest, AMalformedProposedLeaseIdIsRefusedAndLeasesNothing) {
  Submit("bad", Trials({1}));
  for (const std::string& bad : std::vector<std::string>{
           "abc", std::string(31, 'a'), std::string(33, 'a'), std::string(32, 'A'),
           std::string(31, 'a') + "g", std::string(31, 'a') + "'"}) {
    const absl::Status refused = store_->LeaseTrial("w1", 1, kPolicy, bad).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.message(), AllOf(HasSubstr("worker 'w1'"), HasSubstr("32 lowercase hex")))
        << bad;
  }
  EXPECT_EQ(StatusOf(HexId(1)), TrialStatus::kPending);
}

TEST_F(LeasesTest, LeasesTheOldestPendingTrialOfTheGroupSize) {
  Submit("first", Trials({3, 1, 2}));  // positions 0, 1, 2: the expansion order, not the ids
  clock_.Advance(seconds(1));
  Submit("second", {Trials({5})[0], Trials({4}, /*ranks=*/2)[0]});
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) order.push_back(MustLease("w1").trial_id);
  EXPECT_EQ(order, (std::vector<std::string>{HexId(3), HexId(1), HexId(2), HexId(5)}));
  absl::StatusOr<std::optional<Lease>> none = store_->LeaseTrial("w1", 1, kPolicy);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  absl::StatusOr<std::optional<Lease>> pair = store_->LeaseTrial("w2", 2, kPolicy);
  ASSERT_TRUE(pair.ok() && pair->has_value()) << pair.status();
  EXPECT_EQ((*pair)->trial_id, HexId(4));
}

TEST_F(LeasesTest, QueueOrderIsSubmissionThenSweepPositionAndSurvivesSharingAndRequeues) {
  Submit("first", Trials({3, 1, 2}));
  clock_.Advance(seconds(1));
  // Trial 1 is already queued by "first": it keeps its place; 6 and 5 come after all of "first".
  Submit("second", Trials({6, 1, 5}));
  clock_.Advance(seconds(1));
  Submit("first", Trials({3, 1, 2}));  // the same sweep again: changes nothing
  Submit("third", Trials({4}));

  // A retryable failure puts trial 3 back at its old place, the head of the queue.
  const Lease head = MustLease("w1");
  ASSERT_EQ(head.trial_id, HexId(3));
  absl::StatusOr<TrialStatus> retry = store_->FailLeasedTrial(
      head.trial_id, head.fencing_token, {.error = "oom", .retryable = true}, kPolicy);
  ASSERT_TRUE(retry.ok()) << retry.status();
  ASSERT_EQ(*retry, TrialStatus::kPending);

  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) order.push_back(MustLease(i % 2 == 0 ? "w1" : "w2").trial_id);
  EXPECT_EQ(order,
            (std::vector<std::string>{HexId(3), HexId(1), HexId(2), HexId(6), HexId(5), HexId(4)}));
  RawDb raw(path_);
  EXPECT_EQ(raw.Column("SELECT id FROM trials ORDER BY created_at, queue_order"),
            raw.Column("SELECT id FROM trials ORDER BY queue_order"));
}

// Not timed: the plans show that choosing and queueing a trial are index lookups, whatever the
// queue's length (Note [Queue order] in db/internal/schema.cc).
TEST_F(LeasesTest, NextPendingAndInsertionUseTheQueueIndices) {
  std::vector<sweeps::TrialSpec> trials;
  for (int n = 1; n <= 200; ++n) trials.push_back(MakeTrial(n, {.seed = n}));
  Submit("big", std::move(trials));
  RawDb raw(path_);
  ASSERT_EQ(raw.Exec("ANALYZE"), "");  // the plan must not depend on missing statistics

  const std::string next = raw.QueryPlan(internal::kNextPendingSql);
  EXPECT_THAT(next, HasSubstr("USING INDEX trials_queue (status=? AND ranks=?)")) << next;
  EXPECT_THAT(next, Not(HasSubstr("TEMP B-TREE"))) << next;
  EXPECT_THAT(next, Not(HasSubstr("SCAN"))) << next;

  const std::string insert = raw.QueryPlan(internal::kInsertTrialSql);
  EXPECT_THAT(insert, HasSubstr("trials_by_queue_order")) << insert;
  EXPECT_THAT(insert, Not(HasSubstr("SCAN"))) << insert;
}

TEST_F(LeasesTest, NothingPendingIsNullopt) {
  absl::StatusOr<std::optional<Lease>> none = store_->LeaseTrial("w1", 1, kPolicy);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
}

// The settings outside a trial's identity travel with its lease (Note [A lease carries its
// trial], schema.cc), from the first sweep that holds it.
TEST_F(LeasesTest, ALeaseCarriesTheSettingsOutsideTheTrialsIdentity) {
  std::vector<sweeps::TrialSpec> first = Trials({1}, /*ranks=*/2);
  first[0].training.gradient_accumulation_steps = 3;
  Submit("first", first);
  std::vector<sweeps::TrialSpec> second = Trials({1}, /*ranks=*/2);
  second[0].training.gradient_accumulation_steps = 5;  // the same trial: the first sweep's wins
  Submit("second", second);
  absl::StatusOr<std::optional<Lease>> lease = store_->LeaseTrial("w1", 2, kPolicy);
  ASSERT_TRUE(lease.ok() && lease->has_value()) << lease.status();
  EXPECT_EQ((*lease)->ranks_per_trial, 2);
  EXPECT_EQ((*lease)->gradient_accumulation_steps, 3);
}

TEST_F(LeasesTest, ALeaseStartsAnAttemptWithAFreshIdTokenAndExpiry) {
  Submit("s", Trials({1}));
  const Lease lease = MustLease("w1");
  EXPECT_EQ(lease.trial_id, HexId(1));
  EXPECT_EQ(lease.canonical_json, Trials({1})[0].canonical_json);
  EXPECT_EQ(lease.sweep_yaml, "name: s\n");
  EXPECT_EQ(lease.ranks_per_trial, 1);
  EXPECT_EQ(lease.gradient_accumulation_steps, 1);
  EXPECT_EQ(lease.attempt, 1);
  EXPECT_EQ(lease.fencing_token, 1);
  EXPECT_EQ(lease.expires_at, clock_.Now() + seconds(30));
  EXPECT_THAT(lease.lease_id, ::testing::MatchesRegex("[0-9a-f]{32}"));

  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials WHERE status = 'leased' AND attempts = 1 AND "
                    "worker_id = 'w1' AND fencing_token = 1 AND lease_id = '" +
                    lease.lease_id +
                    "' AND lease_expires_at = " + std::to_string(Millis(lease.expires_at))),
            1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE attempt = 1 AND outcome = 'running' AND "
                    "worker_id = 'w1' AND fencing_token = 1 AND lease_id = '" +
                    lease.lease_id + "'"),
            1);
  EXPECT_EQ(store_->MarkTrialRunning(HexId(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LeasesTest, AnUnknownWorkerIsNotFoundAndAQuarantinedOneGetsNothing) {
  Submit("s", Trials({1}));
  const absl::Status unknown = store_->LeaseTrial("nobody", 1, kPolicy).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("worker 'nobody'"));
  RawDb(path_).Exec("UPDATE workers SET quarantined = 1 WHERE id = 'w1'");
  const absl::Status quarantined = store_->LeaseTrial("w1", 1, kPolicy).status();
  EXPECT_EQ(quarantined.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(quarantined.message(), AllOf(HasSubstr("worker 'w1'"), HasSubstr("quarantined")));
  EXPECT_EQ(StatusOf(HexId(1)), TrialStatus::kPending);
}

TEST_F(LeasesTest, AHeartbeatExtendsTheLease) {
  Submit("s", Trials({1}));
  const Lease lease = MustLease("w1");
  clock_.Advance(seconds(20));
  absl::StatusOr<LeaseState> beat = store_->Heartbeat(lease.trial_id, lease.fencing_token, kPolicy);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, LeaseState::kActive);
  EXPECT_EQ(Worker("w1").last_seen_at, clock_.Now());
  clock_.Advance(seconds(20));  // 40 s after the lease, 20 s after the heartbeat
  absl::StatusOr<std::vector<std::string>> expired = store_->ExpireLeases(kPolicy);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_TRUE(expired->empty());
  EXPECT_EQ(RawDb(path_).Int("SELECT lease_expires_at FROM trials"),
            Millis(clock_.Now() + seconds(10)));
  EXPECT_EQ(store_->Heartbeat(HexId(9), 1, kPolicy).status().code(), absl::StatusCode::kNotFound);
}

// Note [Grace after a restart] in db/internal/leases.cc.
TEST_F(LeasesTest, GraceAfterRestartGivesOverdueLeasesOneTtlFromNowAndShortensNone) {
  Submit("s", Trials({1, 2, 3}));
  const Lease first = MustLease("w1");  // expires at 30 s
  const LeasePolicy long_ttl = {.ttl = seconds(100), .max_attempts = 3, .quarantine_after = 3};
  const Lease third = MustLease("w1", long_ttl);  // expires at 100 s
  clock_.Advance(seconds(20));
  const Lease second = MustLease("w2");  // expires at 50 s
  clock_.Advance(seconds(25));  // 45 s: the first is overdue, the second not, the third beyond 75 s
  RawDb raw(path_);
  const int64_t third_expiry = raw.Int("SELECT lease_expires_at FROM trials WHERE id = '" +
                                       third.trial_id + "'");

  absl::StatusOr<int64_t> extended = store_->GraceLeasesAfterRestart(kPolicy);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(*extended, 2);
  for (const Lease& lease : {first, second}) {
    EXPECT_EQ(raw.Int("SELECT lease_expires_at FROM trials WHERE id = '" + lease.trial_id + "'"),
              Millis(clock_.Now() + seconds(30)));
    EXPECT_EQ(StatusOf(lease.trial_id), TrialStatus::kLeased);
  }
  EXPECT_EQ(raw.Int("SELECT lease_expires_at FROM trials WHERE id = '" + third.trial_id + "'"),
            third_expiry);

  // The first group heartbeats; the second never does and loses its lease one TTL later.
  clock_.Advance(seconds(20));
  ASSERT_TRUE(store_->Heartbeat(first.trial_id, first.fencing_token, kPolicy).ok());
  clock_.Advance(seconds(10));
  absl::StatusOr<std::vector<std::string>> expired = store_->ExpireLeases(kPolicy);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, std::vector<std::string>{second.trial_id});
  EXPECT_EQ(StatusOf(first.trial_id), TrialStatus::kLeased);
}

TEST_F(LeasesTest, AStaleTokenAfterExpiryAndReleaseIsRefusedAndWritesNothing) {
  Submit("s", Trials({1}));
  const Lease old = MustLease("w1");
  clock_.Advance(seconds(31));
  const Lease current = MustLease("w2");  // expires the old lease first
  ASSERT_EQ(current.trial_id, old.trial_id);
  EXPECT_EQ(current.fencing_token, 2);
  EXPECT_EQ(current.attempt, 2);
  EXPECT_NE(current.lease_id, old.lease_id);

  const std::vector<MetricRow> metrics = {
      {.trial_id = old.trial_id, .step = 1, .split = "train", .name = "loss", .value = 0.5}};
  const std::vector<IsotropyRow> isotropy = {{.trial_id = old.trial_id, .step = 1}};
  const std::vector<FinalResult> results = {{"validation", "accuracy", 0.9}};
  const auto expect_stale = [&](const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr(old.trial_id.substr(0, 12)),
                                        HasSubstr("fencing token 1 "), HasSubstr("token 2")));
  };
  expect_stale(store_->Heartbeat(old.trial_id, old.fencing_token, kPolicy).status());
  expect_stale(store_->WriteLeasedResults(old.trial_id, old.fencing_token, metrics, isotropy));
  expect_stale(store_->CompleteLeasedTrial(old.trial_id, old.fencing_token, results));
  expect_stale(
      store_->FailLeasedTrial(old.trial_id, old.fencing_token, {.error = "x"}, kPolicy).status());

  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM metrics"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM isotropy"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM final_results"), 0);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials WHERE status = 'leased' AND fencing_token = 2 "
                    "AND worker_id = 'w2' AND attempts = 2 AND lease_expires_at = " +
                    std::to_string(Millis(current.expires_at))),
            1);
  EXPECT_EQ(raw.Int("SELECT outcome = 'expired' FROM attempts WHERE attempt = 1"), 1);
  EXPECT_EQ(raw.Int("SELECT outcome = 'running' FROM attempts WHERE attempt = 2"), 1);
  EXPECT_EQ(Worker("w1").consecutive_failures, 1);
  // The current holder's reports are accepted.
  EXPECT_TRUE(
      store_->WriteLeasedResults(current.trial_id, current.fencing_token, metrics, isotropy).ok());
  EXPECT_EQ(raw.Int("SELECT count(*) FROM metrics"), 1);
}

TEST_F(LeasesTest, ExpiryRequeuesKeepingAttemptsThenFailsAfterMaxAttempts) {
  Submit("s", Trials({1}));
  const LeasePolicy policy{.ttl = seconds(30), .max_attempts = 3, .quarantine_after = 0};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(MustLease("w1", policy).attempt, attempt);
    clock_.Advance(seconds(30));  // an expiry at exactly now counts
    absl::StatusOr<std::vector<std::string>> expired = store_->ExpireLeases(policy);
    ASSERT_TRUE(expired.ok()) << expired.status();
    EXPECT_EQ(*expired, std::vector<std::string>{HexId(1)});
    absl::StatusOr<TrialRecord> trial = store_->GetTrial(HexId(1));
    ASSERT_TRUE(trial.ok()) << trial.status();
    EXPECT_EQ(trial->attempts, attempt);
    EXPECT_EQ(trial->status, attempt < 3 ? TrialStatus::kPending : TrialStatus::kFailed);
    EXPECT_EQ(trial->error, "lease expired on attempt " + std::to_string(attempt) + " of 3");
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE outcome = 'expired'"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM trials WHERE lease_id IS NULL AND "
                    "lease_expires_at IS NULL AND finished_at IS NOT NULL"),
            1);
  EXPECT_FALSE(Worker("w1").quarantined);  // quarantine_after = 0 never quarantines
  EXPECT_EQ(Worker("w1").consecutive_failures, 3);
}

TEST_F(LeasesTest, ExpiredLeasesQuarantineTheirWorker) {
  Submit("s", Trials({1, 2, 3}));
  const LeasePolicy policy{.ttl = seconds(30), .max_attempts = 3, .quarantine_after = 2};
  MustLease("w1", policy);
  MustLease("w1", policy);
  clock_.Advance(seconds(31));
  const absl::Status refused = store_->LeaseTrial("w1", 1, policy).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Worker("w1").quarantined);  // the expiries were kept although w1 got nothing
  EXPECT_EQ(Worker("w1").consecutive_failures, 2);
  EXPECT_EQ(MustLease("w2", policy).trial_id, HexId(1));
}

TEST_F(LeasesTest, ARetryableFailureRequeuesAndAnotherFails) {
  Submit("s", Trials({1, 2}));
  const Lease first = MustLease("w1");
  absl::StatusOr<TrialStatus> retry = store_->FailLeasedTrial(
      first.trial_id, first.fencing_token, {.error = "out of memory", .retryable = true}, kPolicy);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, TrialStatus::kPending);
  const Lease second = MustLease("w1");
  absl::StatusOr<TrialStatus> fail = store_->FailLeasedTrial(
      second.trial_id, second.fencing_token, {.error = "diverged: loss is NaN"}, kPolicy);
  ASSERT_TRUE(fail.ok()) << fail.status();
  EXPECT_EQ(*fail, TrialStatus::kFailed);
  absl::StatusOr<TrialRecord> trial = store_->GetTrial(second.trial_id);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->error, "diverged: loss is NaN");
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE outcome = 'failed'"), 2);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE error = 'out of memory'"), 1);

  // A retryable failure on the last attempt fails the trial.
  const LeasePolicy once{.ttl = seconds(30), .max_attempts = 1};
  const Lease last = MustLease("w1", once);
  absl::StatusOr<TrialStatus> exhausted = store_->FailLeasedTrial(
      last.trial_id, last.fencing_token, {.error = "oom", .retryable = true}, once);
  ASSERT_TRUE(exhausted.ok()) << exhausted.status();
  EXPECT_EQ(*exhausted, TrialStatus::kFailed);
}

TEST_F(LeasesTest, ARequeueDoesNotConsumeAnAttempt) {
  Submit("s", Trials({1}));
  const Lease preempted = MustLease("w1");
  absl::StatusOr<TrialStatus> requeued = store_->FailLeasedTrial(
      preempted.trial_id, preempted.fencing_token, {.error = "SIGTERM", .requeue = true}, kPolicy);
  ASSERT_TRUE(requeued.ok()) << requeued.status();
  EXPECT_EQ(*requeued, TrialStatus::kPending);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT attempts FROM trials"), 0);
  EXPECT_EQ(raw.Int("SELECT outcome = 'abandoned' FROM attempts WHERE attempt = 1"), 1);

  const Lease again = MustLease("w1");
  EXPECT_EQ(again.attempt, 1);
  EXPECT_EQ(again.fencing_token, 2);
  EXPECT_EQ(raw.Int("SELECT attempt FROM attempts WHERE outcome = 'running'"), 2);
  ASSERT_TRUE(store_
                  ->FailLeasedTrial(again.trial_id, again.fencing_token,
                                    {.error = "SIGTERM", .requeue = true}, kPolicy)
                  .ok());
  // The standalone trainer's transitions number their attempt rows after the abandoned ones.
  absl::StatusOr<int64_t> standalone = store_->MarkTrialRunning(HexId(1));
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  EXPECT_EQ(*standalone, 1);
  ASSERT_TRUE(store_->MarkTrialDone(HexId(1)).ok());
  EXPECT_EQ(raw.Int("SELECT outcome = 'done' FROM attempts WHERE attempt = 3"), 1);
}

TEST_F(LeasesTest, CompletionStoresFinalResultsAndResetsTheWorkersFailures) {
  Submit("s", Trials({1, 2}));
  const Lease failed = MustLease("w1");
  ASSERT_TRUE(store_
                  ->FailLeasedTrial(failed.trial_id, failed.fencing_token,
                                    {.error = "NCCL timeout", .infrastructure = true}, kPolicy)
                  .ok());
  EXPECT_EQ(Worker("w1").consecutive_failures, 1);
  const Lease lease = MustLease("w1");
  const std::vector<FinalResult> results = {{"validation", "accuracy", 0.91},
                                            {"test", "accuracy", 0.89}};
  ASSERT_TRUE(store_->CompleteLeasedTrial(lease.trial_id, lease.fencing_token, results).ok());
  absl::StatusOr<TrialRecord> trial = store_->GetTrial(lease.trial_id);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->status, TrialStatus::kDone);
  ASSERT_EQ(trial->final_results.size(), 2u);
  EXPECT_EQ(trial->final_results[1].value, 0.91);
  EXPECT_EQ(trial->finished_at, clock_.Now());
  EXPECT_EQ(Worker("w1").consecutive_failures, 0);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT outcome = 'done' AND ended_at IS NOT NULL FROM attempts WHERE "
                    "trial_id = '" +
                    lease.trial_id + "'"),
            1);
  // Done is final: the token no longer holds anything.
  EXPECT_EQ(store_->CompleteLeasedTrial(lease.trial_id, lease.fencing_token, results).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LeasesTest, CancellingASweepStopsItsPendingAndLeasedTrials) {
  Submit("s", Trials({1, 2, 3}));
  const Lease held = MustLease("w1");
  const Lease done = MustLease("w2");
  ASSERT_TRUE(store_->CompleteLeasedTrial(done.trial_id, done.fencing_token, {}).ok());
  absl::StatusOr<int64_t> cancelled = store_->CancelSweep("s");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(*cancelled, 2);
  EXPECT_EQ(StatusOf(HexId(1)), TrialStatus::kCancelled);
  EXPECT_EQ(StatusOf(HexId(2)), TrialStatus::kDone);
  EXPECT_EQ(StatusOf(HexId(3)), TrialStatus::kCancelled);

  absl::StatusOr<LeaseState> beat = store_->Heartbeat(held.trial_id, held.fencing_token, kPolicy);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, LeaseState::kCancelled);
  const std::vector<MetricRow> metrics = {
      {.trial_id = held.trial_id, .step = 1, .split = "train", .name = "loss", .value = 0.5}};
  EXPECT_EQ(store_->WriteLeasedResults(held.trial_id, held.fencing_token, metrics, {}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->CompleteLeasedTrial(held.trial_id, held.fencing_token, {}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Heartbeat(held.trial_id, held.fencing_token + 1, kPolicy).status().code(),
            absl::StatusCode::kFailedPrecondition);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM metrics"), 0);
  EXPECT_EQ(raw.Int("SELECT outcome = 'cancelled' FROM attempts WHERE trial_id = '" +
                    held.trial_id + "'"),
            1);
  absl::StatusOr<std::optional<Lease>> none = store_->LeaseTrial("w1", 1, kPolicy);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(store_->CancelSweep("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LeasesTest, GetSweepCountsItsTrialsByStatus) {
  Submit("s", Trials({1, 2, 3, 4}));
  const Lease lease = MustLease("w1");
  ASSERT_TRUE(store_->CompleteLeasedTrial(lease.trial_id, lease.fencing_token, {}).ok());
  MustLease("w1");
  absl::StatusOr<SweepProgress> progress = store_->GetSweep("s");
  ASSERT_TRUE(progress.ok()) << progress.status();
  EXPECT_EQ(progress->name, "s");
  EXPECT_EQ(progress->trial_count, 4);
  EXPECT_EQ(progress->by_status,
            (std::map<TrialStatus, int64_t>{
                {TrialStatus::kPending, 2}, {TrialStatus::kLeased, 1}, {TrialStatus::kDone, 1}}));
  absl::StatusOr<SweepProgress> by_id = store_->GetSweep(progress->id.substr(0, 10));
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->name, "s");
  EXPECT_EQ(store_->GetSweep("other").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LeasesTest, ListSweepsGivesEverySweepInSubmissionOrderWithItsCounts) {
  Submit("later-name-first", Trials({1, 2, 3}));
  clock_.Advance(seconds(1));
  Submit("a-second", Trials({3, 4}));   // trial 3 belongs to both sweeps
  const Lease lease = MustLease("w1");  // the oldest pending trial: 1, of the first sweep
  ASSERT_TRUE(store_->CompleteLeasedTrial(lease.trial_id, lease.fencing_token, {}).ok());
  absl::StatusOr<std::vector<SweepProgress>> sweeps = store_->ListSweeps();
  ASSERT_TRUE(sweeps.ok()) << sweeps.status();
  ASSERT_EQ(sweeps->size(), 2u);
  EXPECT_EQ((*sweeps)[0].name, "later-name-first");
  EXPECT_EQ((*sweeps)[0].trial_count, 3);
  EXPECT_EQ((*sweeps)[0].by_status,
            (std::map<TrialStatus, int64_t>{{TrialStatus::kPending, 2}, {TrialStatus::kDone, 1}}));
  EXPECT_EQ((*sweeps)[1].name, "a-second");
  EXPECT_EQ((*sweeps)[1].by_status, (std::map<TrialStatus, int64_t>{{TrialStatus::kPending, 2}}));
  EXPECT_LT((*sweeps)[0].submitted_at, (*sweeps)[1].submitted_at);
  // GetSweep agrees with the list.
  absl::StatusOr<SweepProgress> second = store_->GetSweep("a-second");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id, (*sweeps)[1].id);
}

TEST_F(LeasesTest, DataVersionChangesWhenAnotherConnectionCommitsAndOnlyThen) {
  std::unique_ptr<Store> reader = OpenStore(path_, {.mode = OpenMode::kReadOnly});
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<int64_t> before = reader->DataVersion();
  ASSERT_TRUE(before.ok()) << before.status();
  // Reading, by this connection or another, changes nothing.
  ASSERT_TRUE(reader->ListSweeps().ok());
  ASSERT_TRUE(store_->ListWorkers().ok());
  absl::StatusOr<int64_t> after_reads = reader->DataVersion();
  ASSERT_TRUE(after_reads.ok());
  EXPECT_EQ(*after_reads, *before);
  // A commit by the writer's connection does.
  Submit("s", Trials({1}));
  absl::StatusOr<int64_t> after_write = reader->DataVersion();
  ASSERT_TRUE(after_write.ok());
  EXPECT_NE(*after_write, *before);
  absl::StatusOr<int64_t> again = reader->DataVersion();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *after_write);
  // So does a write by a process that is not istar at all (SQLite's own API on the file).
  RawDb(path_).Exec("UPDATE workers SET host = 'elsewhere' WHERE id = 'w2'");
  absl::StatusOr<int64_t> after_raw = reader->DataVersion();
  ASSERT_TRUE(after_raw.ok());
  EXPECT_NE(*after_raw, *after_write);
}

TEST_F(LeasesTest, TwoStoresLeasingConcurrentlyNeverLeaseATrialTwice) {
  std::vector<sweeps::TrialSpec> trials;
  for (int n = 1; n <= 20; ++n) trials.push_back(MakeTrial(n, {.seed = n}));
  Submit("many", std::move(trials));
  std::vector<std::string> leased[2];
  std::vector<absl::Status> errors[2];
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        std::unique_ptr<Store> store = OpenStore(path_, {.clock = &clock_});
        if (store == nullptr) return;
        while (true) {
          absl::StatusOr<std::optional<Lease>> lease =
              store->LeaseTrial(t == 0 ? "w1" : "w2", 1, kPolicy);
          if (!lease.ok()) {
            errors[t].push_back(lease.status());
            return;
          }
          if (!lease->has_value()) return;
          leased[t].push_back((*lease)->trial_id);
        }
      });
    }
  }
  EXPECT_TRUE(errors[0].empty() && errors[1].empty());
  std::set<std::string> distinct(leased[0].begin(), leased[0].end());
  distinct.insert(leased[1].begin(), leased[1].end());
  EXPECT_EQ(leased[0].size() + leased[1].size(), 20u);
  EXPECT_EQ(distinct.size(), 20u);
  EXPECT_EQ(RawDb(path_).Int("SELECT count(*) FROM attempts"), 20);
}

TEST_F(LeasesTest, LeasesAndTheirExpiriesSurviveARestart) {
  Submit("s", Trials({1}));
  const Lease lease = MustLease("w1");
  store_.reset();
  store_ = OpenStore(path_, {.clock = &clock_});
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(StatusOf(lease.trial_id), TrialStatus::kLeased);
  clock_.Advance(seconds(29));
  absl::StatusOr<std::vector<std::string>> early = store_->ExpireLeases(kPolicy);
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_TRUE(early->empty());
  clock_.Advance(seconds(1));
  absl::StatusOr<std::vector<std::string>> expired = store_->ExpireLeases(kPolicy);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, std::vector<std::string>{lease.trial_id});
  EXPECT_EQ(StatusOf(lease.trial_id), TrialStatus::kPending);
}

TEST_F(LeasesTest, BadArgumentsAreInvalidArgument) {
  Submit("s", Trials({1}));
  EXPECT_EQ(store_->LeaseTrial("w1", 0, kPolicy).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LeaseTrial("w1", 1, {.ttl = seconds(0)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Lease lease = MustLease("w1");
  const std::vector<MetricRow> other = {
      {.trial_id = HexId(7), .step = 1, .split = "train", .name = "loss", .value = 0.5}};
  EXPECT_EQ(store_->WriteLeasedResults(lease.trial_id, lease.fencing_token, other, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::db
