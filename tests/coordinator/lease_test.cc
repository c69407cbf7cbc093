// Leases through the wire: the full cycle of a trial, fencing, cancellation, retries and
// quarantine, and the refusal of malformed requests.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/sweep.h"
#include "tests/coordinator/test_util.h"

namespace istar::coordinator {
namespace {

using ::istar::coordinator::testing::CoordinatorTest;
using ::istar::coordinator::testing::RawContext;
using ::testing::HasSubstr;
using std::chrono::seconds;

using CoordinatorLeaseTest = CoordinatorTest;

std::vector<db::MetricRow> Rows(const std::string& trial_id, int from, int count) {
  std::vector<db::MetricRow> rows;
  for (int step = from; step < from + count; ++step) {
    rows.push_back({.trial_id = trial_id, .step = step, .epoch = step / 100.0, .split = "train",
                    .name = "loss", .value = 1.0 / (step + 1)});
  }
  return rows;
}

std::string Where(const db::Lease& lease) { return " WHERE trial_id = '" + lease.trial_id + "'"; }

// A client older than LeaseTrialRequest.without_sweep_yaml reads the trial from the sweep file:
// it still gets one (docs/protocol.md, "Compatibility").
TEST_F(CoordinatorLeaseTest, AnOlderClientStillGetsTheSweepFile) {
  StartServer();
  auto client = Connect();
  Submit(*client, "legacy", 1);
  ASSERT_TRUE(client->RegisterWorker("old", "host", 1).ok());
  v1::LeaseTrialRequest request;
  request.set_worker_id("old");
  request.set_ranks(1);
  v1::LeaseTrialResponse response;
  auto context = RawContext();
  const grpc::Status status = RawStub()->LeaseTrial(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.has_lease());
  EXPECT_THAT(response.lease().sweep_yaml(), HasSubstr("name: legacy"));
  EXPECT_EQ(response.lease().gradient_accumulation_steps(), 1);
}

// A lease request tried again after its answer was lost (docs/protocol.md, LeaseTrialRequest's
// lease_id): the same id gets the same lease, not a second trial; a malformed id is refused.
TEST_F(CoordinatorLeaseTest, ARequestTriedAgainWithItsLeaseIdGetsTheSameLease) {
  StartServer();
  auto client = Connect();
  Submit(*client, "retry", 2);
  ASSERT_TRUE(client->RegisterWorker("w1", "host", 1).ok());
  const std::string id = *db::NewLeaseId();
  absl::StatusOr<std::optional<db::Lease>> first = client->LeaseTrial("w1", 1, nullptr, id);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->lease_id, id);
  clock_.Advance(seconds(5));
  absl::StatusOr<std::optional<db::Lease>> again = client->LeaseTrial("w1", 1, nullptr, id);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->trial_id, (*first)->trial_id);
  EXPECT_EQ((*again)->fencing_token, (*first)->fencing_token);
  EXPECT_EQ((*again)->attempt, 1);
  EXPECT_EQ((*again)->expires_at, clock_.Now() + seconds(30));
  EXPECT_EQ(Count("SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE status = 'pending'"), 1);

  const absl::Status bad = client->LeaseTrial("w1", 1, nullptr, "not-hex").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("32 lowercase hex digits"));
}

TEST_F(CoordinatorLeaseTest, FullCycleStoresResultsAndMarksTheTrialDone) {
  StartServer();
  auto client = Connect();
  const std::string sweep_id = Submit(*client, "cycle", 2);
  absl::StatusOr<WorkerRegistration> registration = client->RegisterWorker("w1", "host-1", 1);
  ASSERT_TRUE(registration.ok()) << registration.status();
  EXPECT_EQ(registration->lease_ttl, seconds(30));
  EXPECT_EQ(registration->heartbeat_interval, seconds(10));
  EXPECT_FALSE(registration->quarantined);

  const db::Lease lease = MustLease(*client, "w1");
  EXPECT_EQ(lease.attempt, 1);
  EXPECT_GE(lease.fencing_token, 1);
  EXPECT_EQ(lease.lease_id.size(), 32u);
  EXPECT_EQ(lease.expires_at, clock_.Now() + seconds(30));
  // The lease carries the trial, not its sweep (Note [A lease carries its trial] in
  // db/internal/schema.cc): its configuration reads back under its id.
  EXPECT_EQ(lease.sweep_yaml, "");
  EXPECT_EQ(lease.ranks_per_trial, 1);
  EXPECT_EQ(lease.gradient_accumulation_steps, 1);
  const absl::StatusOr<sweeps::TrialSpec> trial =
      sweeps::TrialFromCanonicalJson(lease.trial_id, lease.canonical_json);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->model, "bert");
  EXPECT_EQ(trial->model_path, "/ckpt/bert");

  clock_.Advance(seconds(20));
  absl::StatusOr<db::LeaseState> beat = client->Heartbeat(lease.trial_id, lease.fencing_token);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, db::LeaseState::kActive);
  clock_.Advance(seconds(20));  // past the first expiry, within the extended one
  // A lease call for another group size runs the on-demand expiry and leases nothing.
  absl::StatusOr<std::optional<db::Lease>> none = client->LeaseTrial("w1", 2, nullptr);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(Query("SELECT status FROM trials WHERE id = '" + lease.trial_id + "'"), "leased");

  // Several batches on one stream; then the same batch sent twice on one stream.
  const std::vector<db::MetricRow> rows = Rows(lease.trial_id, 0, 25);
  ASSERT_TRUE(client->ReportMetrics(lease.trial_id, lease.fencing_token, rows, {}, 10).ok());
  auto stub = RawStub();
  v1::ReportMetricsResponse response;
  auto context = RawContext();
  auto writer = stub->ReportMetrics(context.get(), &response);
  v1::MetricBatch batch;
  batch.set_trial_id(lease.trial_id);
  batch.set_fencing_token(lease.fencing_token);
  v1::Metric* metric = batch.add_metrics();
  metric->set_step(100);
  metric->set_split("validation");
  metric->set_name("accuracy");
  metric->set_value(0.9);
  v1::IsotropyMeasure* iso = batch.add_isotropy();
  iso->set_step(100);
  iso->set_layer(-1);
  iso->set_isoscore_star(0.5);
  ASSERT_TRUE(writer->Write(batch));
  ASSERT_TRUE(writer->Write(batch));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(response.batches(), 2);
  EXPECT_EQ(response.rows(), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM metrics" + Where(lease)), 26);
  EXPECT_EQ(Count("SELECT count(*) FROM isotropy" + Where(lease)), 1);

  const std::vector<db::FinalResult> results = {{"validation", "accuracy", 0.91},
                                                {"validation", "f1", 0.88}};
  ASSERT_TRUE(client->CompleteTrial(lease.trial_id, lease.fencing_token, results).ok());
  EXPECT_EQ(Query("SELECT status FROM trials WHERE id = '" + lease.trial_id + "'"), "done");
  EXPECT_EQ(Query("SELECT value FROM final_results" + Where(lease) + " AND name = 'f1'"), "0.88");
  EXPECT_EQ(Query("SELECT outcome FROM attempts" + Where(lease)), "done");

  absl::StatusOr<db::SweepProgress> progress = client->GetSweep("cycle");
  ASSERT_TRUE(progress.ok()) << progress.status();
  EXPECT_EQ(progress->id, sweep_id);
  EXPECT_EQ(progress->trial_count, 2);
  EXPECT_EQ(progress->by_status[db::TrialStatus::kDone], 1);
  EXPECT_EQ(progress->by_status[db::TrialStatus::kPending], 1);
  const db::TrialStatus done[] = {db::TrialStatus::kDone};
  absl::StatusOr<std::vector<db::TrialRecord>> trials = client->ListTrials("cycle", done);
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 1u);
  EXPECT_EQ((*trials)[0].id, lease.trial_id);
  EXPECT_EQ((*trials)[0].worker_id.value_or(""), "w1");
  EXPECT_EQ((*trials)[0].attempts, 1);
  EXPECT_EQ(client->ListTrials("cycle")->size(), 2u);
}

TEST_F(CoordinatorLeaseTest, StaleFencingTokenIsRefusedAndChangesNothing) {
  StartServer();
  auto client = Connect();
  Submit(*client, "fence", 1);
  const db::Lease old = MustLease(*client, "w1");
  clock_.Advance(seconds(31));
  const db::Lease fresh = MustLease(*client, "w2");
  ASSERT_EQ(fresh.trial_id, old.trial_id);
  EXPECT_EQ(fresh.attempt, 2);
  EXPECT_GT(fresh.fencing_token, old.fencing_token);

  const auto rows = Rows(old.trial_id, 0, 3);
  const absl::Status beat = client->Heartbeat(old.trial_id, old.fencing_token).status();
  EXPECT_EQ(beat.code(), absl::StatusCode::kFailedPrecondition) << beat;
  const absl::Status report = client->ReportMetrics(old.trial_id, old.fencing_token, rows, {});
  EXPECT_EQ(report.code(), absl::StatusCode::kFailedPrecondition) << report;
  const db::FinalResult result{"validation", "accuracy", 1.0};
  const absl::Status complete = client->CompleteTrial(old.trial_id, old.fencing_token, {&result, 1});
  EXPECT_EQ(complete.code(), absl::StatusCode::kFailedPrecondition) << complete;
  const absl::Status fail =
      client->FailTrial(old.trial_id, old.fencing_token, {.error = "late"}).status();
  EXPECT_EQ(fail.code(), absl::StatusCode::kFailedPrecondition) << fail;

  EXPECT_EQ(Count("SELECT count(*) FROM metrics" + Where(old)), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM final_results" + Where(old)), 0);
  EXPECT_EQ(Query("SELECT status || ' ' || worker_id FROM trials WHERE id = '" + old.trial_id + "'"),
            "leased w2");
  EXPECT_EQ(Query("SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts" +
                  Where(old) + " ORDER BY attempt)"),
            "expired,running");
  // The new holder is unaffected.
  EXPECT_TRUE(client->ReportMetrics(fresh.trial_id, fresh.fencing_token, rows, {}).ok());
  EXPECT_TRUE(client->CompleteTrial(fresh.trial_id, fresh.fencing_token, {&result, 1}).ok());
}

TEST_F(CoordinatorLeaseTest, CancelledSweepTellsTheHolderToStopAndRefusesItsReports) {
  StartServer();
  auto client = Connect();
  Submit(*client, "cancel", 3);
  const db::Lease lease = MustLease(*client, "w1");
  absl::StatusOr<int64_t> cancelled = client->CancelSweep("cancel");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(*cancelled, 3);
  absl::StatusOr<db::LeaseState> beat = client->Heartbeat(lease.trial_id, lease.fencing_token);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, db::LeaseState::kCancelled);
  const absl::Status report =
      client->ReportMetrics(lease.trial_id, lease.fencing_token, Rows(lease.trial_id, 0, 2), {});
  EXPECT_EQ(report.code(), absl::StatusCode::kFailedPrecondition) << report;
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 0);
  EXPECT_EQ(client->GetSweep("cancel")->by_status[db::TrialStatus::kCancelled], 3);
  absl::StatusOr<std::optional<db::Lease>> none = client->LeaseTrial("w1", 1, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(CoordinatorLeaseTest, ExpiredLeasesFailTheTrialAfterMaxAttempts) {
  StartServer([](CoordinatorOptions& o) {
    o.lease = {.ttl = seconds(30), .max_attempts = 2, .quarantine_after = 0};
  });
  auto client = Connect();
  Submit(*client, "expire", 1);
  EXPECT_EQ(MustLease(*client, "w1").attempt, 1);
  clock_.Advance(seconds(31));
  const db::Lease second = MustLease(*client, "w1");
  EXPECT_EQ(second.attempt, 2);
  clock_.Advance(seconds(31));
  std::chrono::milliseconds retry_after{0};
  absl::StatusOr<std::optional<db::Lease>> none = client->LeaseTrial("w1", 1, &retry_after);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  EXPECT_GT(retry_after.count(), 0);
  auto trials = client->ListTrials("expire");
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ((*trials)[0].status, db::TrialStatus::kFailed);
  EXPECT_THAT((*trials)[0].error.value_or(""), HasSubstr("attempt 2 of 2"));
}

TEST_F(CoordinatorLeaseTest, FailTrialRetryableRequeueAndFinal) {
  StartServer([](CoordinatorOptions& o) {
    o.lease = {.ttl = seconds(30), .max_attempts = 2, .quarantine_after = 0};
  });
  auto client = Connect();
  Submit(*client, "fail", 1);
  db::Lease lease = MustLease(*client, "w1");
  absl::StatusOr<db::TrialStatus> state =
      client->FailTrial(lease.trial_id, lease.fencing_token, {.error = "oom", .retryable = true});
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, db::TrialStatus::kPending);

  lease = MustLease(*client, "w1");
  EXPECT_EQ(lease.attempt, 2);
  state = client->FailTrial(lease.trial_id, lease.fencing_token, {.error = "preempted", .requeue = true});
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, db::TrialStatus::kPending);

  lease = MustLease(*client, "w1");
  EXPECT_EQ(lease.attempt, 2);  // the requeued attempt was not counted
  state = client->FailTrial(lease.trial_id, lease.fencing_token, {.error = "oom again", .retryable = true});
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, db::TrialStatus::kFailed);
  EXPECT_EQ(Query("SELECT error FROM trials WHERE id = '" + lease.trial_id + "'"), "oom again");
}

TEST_F(CoordinatorLeaseTest, RepeatedInfrastructureFailuresQuarantineTheWorker) {
  StartServer([](CoordinatorOptions& o) {
    o.lease = {.ttl = seconds(30), .max_attempts = 5, .quarantine_after = 2};
  });
  auto client = Connect();
  Submit(*client, "quarantine", 3);
  for (int k = 0; k < 2; ++k) {
    const db::Lease lease = MustLease(*client, "bad");
    ASSERT_TRUE(client->FailTrial(lease.trial_id, lease.fencing_token,
                                  {.error = "nccl", .retryable = true, .infrastructure = true})
                    .ok());
  }
  absl::StatusOr<WorkerRegistration> again = client->RegisterWorker("bad", "host", 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->quarantined);
  const absl::Status refused = client->LeaseTrial("bad", 1, nullptr).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  // Another worker still gets leases.
  EXPECT_FALSE(MustLease(*client, "good").trial_id.empty());

  // An operator sees the quarantine and lifts it; the worker leases again, its count reset.
  absl::StatusOr<std::vector<db::WorkerRecord>> workers = client->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  ASSERT_EQ(workers->size(), 2u);
  EXPECT_EQ((*workers)[0].id, "bad");
  EXPECT_TRUE((*workers)[0].quarantined);
  EXPECT_EQ((*workers)[0].consecutive_failures, 2);
  EXPECT_EQ((*workers)[0].host, "host");
  EXPECT_EQ((*workers)[0].last_seen_at, clock_.Now());
  EXPECT_FALSE((*workers)[1].quarantined);
  ASSERT_TRUE(client->ReleaseWorker("bad").ok());
  workers = client->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_FALSE((*workers)[0].quarantined);
  EXPECT_EQ((*workers)[0].consecutive_failures, 0);
  EXPECT_FALSE(MustLease(*client, "bad").trial_id.empty());
  EXPECT_EQ(client->ReleaseWorker("nobody").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client->ReleaseWorker("").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorLeaseTest, MalformedRequestsAreInvalidArgumentNamingTheField) {
  StartServer();
  auto client = Connect();
  const auto expect_invalid = [&](const absl::Status& status, const std::string& field) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(field));
    // A valid call right after still succeeds.
    EXPECT_TRUE(client->RegisterWorker("ok", "host", 1).ok());
  };
  expect_invalid(client->Heartbeat("xyz", 1).status(), "trial_id");
  expect_invalid(client->Heartbeat(std::string(64, 'A'), 1).status(), "trial_id");
  expect_invalid(client->Heartbeat(std::string(64, 'a'), 0).status(), "fencing_token");
  expect_invalid(client->RegisterWorker("", "host", 1).status(), "worker_id");
  expect_invalid(client->RegisterWorker("w", "host", 0).status(), "ranks");
  expect_invalid(client->LeaseTrial("w", 0, nullptr).status(), "ranks");
  expect_invalid(client->SubmitSweep("", "empty.yaml").status(), "yaml");
  expect_invalid(client->SubmitSweep("name: [unclosed", "broken.yaml").status(), "broken.yaml");
  expect_invalid(client->SubmitSweep("name: x\nmodels: 3\n", "bad.yaml").status(), "models");
  expect_invalid(client->FailTrial(std::string(64, 'a'), 1, {.error = ""}).status(), "reason");
  const db::MetricRow row{.split = "train", .name = "loss"};
  expect_invalid(client->ReportMetrics("nope", 1, {&row, 1}, {}), "trial_id");
  expect_invalid(client->GetSweep("").status(), "sweep");
}

TEST_F(CoordinatorLeaseTest, OversizedMessageIsResourceExhausted) {
  StartServer([](CoordinatorOptions& o) { o.max_message_bytes = 64 << 10; });
  auto client = Connect();
  Submit(*client, "big", 1);
  const db::Lease lease = MustLease(*client, "w1");
  const auto rows = Rows(lease.trial_id, 0, 5000);  // ~ 80 bytes a row: ~ 400 KB in one batch
  const absl::Status big = client->ReportMetrics(lease.trial_id, lease.fencing_token, rows, {});
  EXPECT_EQ(big.code(), absl::StatusCode::kResourceExhausted) << big;
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 0);
  // Small batches of the same rows go through.
  EXPECT_TRUE(client->ReportMetrics(lease.trial_id, lease.fencing_token, rows, {}, 200).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 5000);
}

}  // namespace
}  // namespace istar::coordinator
