// The coordinator as a whole: a restart on the same file, WatchSweep, the expiry thread, and
// many worker groups at once.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_util.h"

namespace istar::coordinator {
namespace {

using ::istar::coordinator::testing::CoordinatorTest;
using std::chrono::seconds;

using CoordinatorServiceTest = CoordinatorTest;

const db::FinalResult kResult{"validation", "accuracy", 0.5};

TEST_F(CoordinatorServiceTest, RestartOnTheSameFileKeepsQueueAndLeases) {
  StartServer();
  auto client = Connect();
  Submit(*client, "restart", 3);
  const db::Lease lease = MustLease(*client, "w1");
  server_->Shutdown(std::chrono::seconds(1));
  server_->Wait();
  server_.reset();

  StartServer();
  client = Connect();  // the new server listens on another port
  absl::StatusOr<db::SweepProgress> progress = client->GetSweep("restart");
  ASSERT_TRUE(progress.ok()) << progress.status();
  EXPECT_EQ(progress->by_status[db::TrialStatus::kPending], 2);
  EXPECT_EQ(progress->by_status[db::TrialStatus::kLeased], 1);
  absl::StatusOr<db::LeaseState> beat = client->Heartbeat(lease.trial_id, lease.fencing_token);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, db::LeaseState::kActive);
  ASSERT_TRUE(client->CompleteTrial(lease.trial_id, lease.fencing_token, {&kResult, 1}).ok());
  for (int k = 0; k < 2; ++k) {
    const db::Lease next = MustLease(*client, "w1");
    EXPECT_NE(next.trial_id, lease.trial_id);
    ASSERT_TRUE(client->CompleteTrial(next.trial_id, next.fencing_token, {&kResult, 1}).ok());
  }
  EXPECT_EQ(client->GetSweep("restart")->by_status[db::TrialStatus::kDone], 3);
  EXPECT_EQ(Query("PRAGMA integrity_check"), "ok");
}

// Down for longer than a lease: the live group's lease survives (Note [Grace after a restart]
// in db/internal/leases.cc), and a group that never comes back loses it one TTL after the restart.
TEST_F(CoordinatorServiceTest, RestartAfterALongOutageKeepsLeasesForOneMoreTtl) {
  StartServer();
  auto client = Connect();
  Submit(*client, "outage", 2);
  const db::Lease live = MustLease(*client, "w1");
  const db::Lease dead = MustLease(*client, "w2");
  server_->Shutdown(std::chrono::seconds(1));
  server_->Wait();
  server_.reset();

  const auto ttl = DefaultOptions().lease.ttl;
  clock_.Advance(ttl * 3);  // the coordinator is down for three leases
  StartServer();
  client = Connect();
  absl::StatusOr<db::LeaseState> beat = client->Heartbeat(live.trial_id, live.fencing_token);
  ASSERT_TRUE(beat.ok()) << beat.status();
  EXPECT_EQ(*beat, db::LeaseState::kActive);
  EXPECT_EQ(client->GetSweep("outage")->by_status[db::TrialStatus::kLeased], 2);

  clock_.Advance(ttl);
  ASSERT_TRUE(client->Heartbeat(live.trial_id, live.fencing_token).ok());
  absl::StatusOr<std::optional<db::Lease>> again = client->LeaseTrial("w1", 1, nullptr);  // expires first
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->trial_id, dead.trial_id);
  EXPECT_EQ((*again)->attempt, 2);
  EXPECT_EQ(client->Heartbeat(dead.trial_id, dead.fencing_token).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorServiceTest, WatchSweepStreamsEveryChangeUntilAllTrialsFinish) {
  StartServer();
  auto client = Connect();
  Submit(*client, "watch", 3);
  auto watcher = Connect();
  std::vector<TrialEvent> events;
  std::atomic<bool> first_event{false};
  absl::Status watched;
  std::thread watch([&] {
    watched = watcher->WatchSweep("watch", [&](const TrialEvent& event) {
      events.push_back(event);
      first_event.store(true);
    });
  });
  while (!first_event.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread worker([&] {
    for (int k = 0; k < 3; ++k) {
      const db::Lease lease = MustLease(*client, "w1");
      std::this_thread::sleep_for(std::chrono::milliseconds(40));  // > watch_interval
      EXPECT_TRUE(client->CompleteTrial(lease.trial_id, lease.fencing_token, {&kResult, 1}).ok());
    }
  });
  worker.join();
  watch.join();
  EXPECT_TRUE(watched.ok()) << watched;
  ASSERT_GE(events.size(), 6u);  // 3 initial states + at least 3 completions
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(events[k].status, db::TrialStatus::kPending);
    EXPECT_EQ(events[k].trial_count, 3);
    EXPECT_EQ(events[k].done, 0);
  }
  // Per trial: pending, (leased,) done, in that order; done counts never go down.
  std::map<std::string, std::vector<db::TrialStatus>> by_trial;
  int64_t last_done = 0;
  for (const TrialEvent& event : events) {
    by_trial[event.trial_id].push_back(event.status);
    EXPECT_GE(event.done, last_done);
    last_done = event.done;
  }
  EXPECT_EQ(last_done, 3);
  ASSERT_EQ(by_trial.size(), 3u);
  for (const auto& [id, statuses] : by_trial) {
    EXPECT_EQ(statuses.front(), db::TrialStatus::kPending) << id;
    EXPECT_EQ(statuses.back(), db::TrialStatus::kDone) << id;
    EXPECT_LE(statuses.size(), 3u) << id;
  }
}

TEST_F(CoordinatorServiceTest, ExpiryThreadReturnsAbandonedLeasesToPending) {
  StartServer([](CoordinatorOptions& o) { o.expiry_interval = std::chrono::milliseconds(10); });
  auto client = Connect();
  Submit(*client, "thread", 1);
  const db::Lease lease = MustLease(*client, "w1");
  clock_.Advance(seconds(31));
  // Nobody calls LeaseTrial: only the thread can expire it.
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = Query("SELECT status FROM trials WHERE id = '" + lease.trial_id + "'");
    if (status == "pending") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, "pending");
  EXPECT_EQ(Query("SELECT outcome FROM attempts WHERE trial_id = '" + lease.trial_id + "'"),
            "expired");
}

TEST_F(CoordinatorServiceTest, ConcurrentWorkersCompleteEveryTrialExactlyOnce) {
  StartServer();
  auto setup = Connect();
  Submit(*setup, "many", 40);
  constexpr int kWorkers = 8;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> completed(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      auto client = Connect();
      const std::string id = "worker-" + std::to_string(w);
      ASSERT_TRUE(client->RegisterWorker(id, "host", 1).ok());
      while (true) {
        absl::StatusOr<std::optional<db::Lease>> lease = client->LeaseTrial(id, 1, nullptr);
        ASSERT_TRUE(lease.ok()) << lease.status();
        if (!lease->has_value()) return;
        const db::Lease& l = **lease;
        const db::MetricRow row{.trial_id = l.trial_id, .step = 1, .split = "train",
                                .name = "loss", .value = 0.1 * w};
        ASSERT_TRUE(client->ReportMetrics(l.trial_id, l.fencing_token, {&row, 1}, {}).ok());
        ASSERT_TRUE(client->CompleteTrial(l.trial_id, l.fencing_token, {&kResult, 1}).ok());
        completed[w].push_back(l.trial_id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::multiset<std::string> all;
  for (const auto& ids : completed) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 40u);
  EXPECT_EQ(Count("SELECT count(*) FROM attempts"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM attempts WHERE outcome = 'done'"), 40);
  EXPECT_EQ(Count("SELECT count(DISTINCT trial_id) FROM attempts"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE status = 'done' AND attempts = 1"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 40);
}

// Defence in depth against hung groups (docs/worker.md, "Hangs"): heartbeats that keep coming but
// report the same progress end the lease once the hang timeout has passed; progress, or a
// client that reports none, keeps it.
TEST_F(CoordinatorServiceTest, HeartbeatsWithoutProgressEndTheLeaseAfterTheHangTimeout) {
  StartServer([](CoordinatorOptions& o) { o.hang_timeout = std::chrono::seconds(60); });
  auto client = Connect();
  Submit(*client, "hang", 2);
  const db::Lease hung = MustLease(*client, "w1");
  const db::Lease busy = MustLease(*client, "w2");
  int64_t busy_steps = 0;
  for (int beat = 0; beat < 4; ++beat) {  // 0, 25, 50, 75 s: the first 60 s are allowed
    ASSERT_TRUE(client->Heartbeat(hung.trial_id, hung.fencing_token, 7).ok()) << beat;
    ASSERT_TRUE(client->Heartbeat(busy.trial_id, busy.fencing_token, busy_steps += 10).ok());
    clock_.Advance(std::chrono::seconds(25));
    if (beat == 2) break;
  }
  // 75 s at step 7: over the timeout.
  const absl::Status refused = client->Heartbeat(hung.trial_id, hung.fencing_token, 7).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()),
              ::testing::HasSubstr("hung: heartbeats reported no progress for 75 s at step 7"));
  EXPECT_EQ(Query("SELECT outcome || ' ' || error FROM attempts WHERE worker_id = 'w1'"),
            "failed hung: heartbeats reported no progress for 75 s at step 7");
  EXPECT_EQ(Query("SELECT status FROM trials WHERE id = '" + hung.trial_id + "'"), "pending");
  // Its later reports are refused by fencing; the group that progresses keeps its lease, and so
  // does one whose heartbeats carry no progress at all (an older worker).
  EXPECT_EQ(client->Heartbeat(hung.trial_id, hung.fencing_token, 8).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client->Heartbeat(busy.trial_id, busy.fencing_token, busy_steps + 1).ok());
  clock_.Advance(std::chrono::seconds(25));
  for (int beat = 0; beat < 5; ++beat, clock_.Advance(std::chrono::seconds(25))) {
    EXPECT_TRUE(client->Heartbeat(busy.trial_id, busy.fencing_token).ok()) << beat;
  }
}

// Note [Progress of the current lease only]: a group that lost its lease and still heartbeats is
// refused by fencing, and its heartbeats do not restart the hang clock of the trial's new holder.
TEST_F(CoordinatorServiceTest, AStaleHoldersHeartbeatsDoNotHideTheNewHoldersHang) {
  StartServer([](CoordinatorOptions& o) { o.hang_timeout = std::chrono::seconds(60); });
  auto client = Connect();
  Submit(*client, "stale", 1);
  const db::Lease old_lease = MustLease(*client, "old");
  clock_.Advance(std::chrono::seconds(31));  // past the 30 s TTL: the next lease expires it
  const db::Lease lease = MustLease(*client, "new");
  ASSERT_EQ(lease.trial_id, old_lease.trial_id);
  ASSERT_EQ(lease.fencing_token, old_lease.fencing_token + 1);
  ASSERT_TRUE(client->Heartbeat(lease.trial_id, lease.fencing_token, 5).ok());  // t = 0
  for (int beat = 1; beat <= 2; ++beat) {  // t = 25 s and 50 s: the old holder, then the new
    clock_.Advance(std::chrono::seconds(25));
    EXPECT_EQ(
        client->Heartbeat(old_lease.trial_id, old_lease.fencing_token, 7 + beat).status().code(),
        absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(client->Heartbeat(lease.trial_id, lease.fencing_token, 5).ok()) << beat;
  }
  clock_.Advance(std::chrono::seconds(25));  // t = 75 s at step 5: hung
  const absl::Status refused = client->Heartbeat(lease.trial_id, lease.fencing_token, 5).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()),
              ::testing::HasSubstr("no progress for 75 s at step 5"));
}

}  // namespace
}  // namespace istar::coordinator
