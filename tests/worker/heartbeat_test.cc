// The heartbeat of a lease against a real coordinator on loopback that goes away and comes back
// (worker/internal/heartbeat.h, Note [Heartbeats while unreachable]).
#include "worker/internal/heartbeat.h"

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/coordinator/test_util.h"

namespace istar::worker::internal {
namespace {

using ::istar::coordinator::testing::CoordinatorTest;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

using HeartbeaterTest = CoordinatorTest;

// The coordinator restarts while a group trains: the group's first heartbeat finds it gone, and
// one must land soon after it is back, not one interval later (with a lease of three intervals
// and the restart's grace of one TTL, a whole interval lost to a try that failed is what let
// leases lapse on a loaded machine). It stays away for 7 s, long enough that tries spaced
// wider than a second would also miss its return by seconds.
TEST_F(HeartbeaterTest, LandsSoonAfterTheCoordinatorReturns) {
  StartServer();
  auto client = Connect();
  Submit(*client, "heartbeat", 1);
  const db::Lease lease = MustLease(*client, "w1");
  const std::string port = std::to_string(server_->port());
  const std::string seen_before = Query("SELECT last_seen_at FROM workers WHERE id = 'w1'");
  server_->Shutdown(seconds(1));
  server_->Wait();
  server_.reset();

  constexpr seconds kInterval(12);
  constexpr seconds kAway(7);
  const auto started = steady_clock::now();
  Heartbeater heartbeat(*client, lease.trial_id, lease.fencing_token, kInterval);
  // The first heartbeat, one interval from now, finds no coordinator; it is back kAway later,
  // on the same port, with its clock a second on (so a heartbeat that lands shows as a new
  // last_seen_at: the restart itself writes none).
  std::this_thread::sleep_until(started + kInterval + kAway);
  clock_.Advance(seconds(1));
  StartServer([&](coordinator::CoordinatorOptions& options) {
    options.listen_address = "127.0.0.1:" + port;
  });
  const auto returned = steady_clock::now();
  std::string seen = seen_before;
  while (seen == seen_before && steady_clock::now() - returned < seconds(30)) {
    std::this_thread::sleep_for(milliseconds(20));
    seen = Query("SELECT last_seen_at FROM workers WHERE id = 'w1'");
  }
  const auto landed_after = steady_clock::now() - returned;
  ASSERT_NE(seen, seen_before) << "no heartbeat landed within 30 s of the coordinator's return";
  // Tried again within a second of each failure, it lands within about two seconds (a second of
  // retry and gRPC's reconnection backoff of at most a second). One try per interval would land
  // 5 s after the return; tries doubling from 0.1 s without the 1 s cap (at 0.1, 0.3, 0.7, 1.5,
  // 3.1, 6.3, 12.7 s after the first failure) 5.7 s after it.
  EXPECT_LT(landed_after, seconds(4))
      << std::chrono::duration_cast<milliseconds>(landed_after).count() << " ms";
  EXPECT_FALSE(heartbeat.lost());
  EXPECT_FALSE(heartbeat.cancelled());
  EXPECT_EQ(Query("SELECT status FROM trials"), "leased");
}

// A coordinator that answers the lease is over (the trial passed to another group, or ended)
// makes the heartbeat stop and say the lease is lost, however it retried before.
TEST_F(HeartbeaterTest, ARefusedLeaseIsLost) {
  StartServer();
  auto client = Connect();
  Submit(*client, "heartbeat", 1);
  const db::Lease lease = MustLease(*client, "w1");
  ASSERT_TRUE(
      client->FailTrial(lease.trial_id, lease.fencing_token, {.error = "ended elsewhere"}).ok());
  Heartbeater heartbeat(*client, lease.trial_id, lease.fencing_token, milliseconds(50));
  const auto started = steady_clock::now();
  while (!heartbeat.lost() && steady_clock::now() - started < seconds(30)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(heartbeat.lost());
  EXPECT_FALSE(heartbeat.cancelled());
}

}  // namespace
}  // namespace istar::worker::internal
