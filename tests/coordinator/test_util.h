// Helpers shared by the coordinator tests: a real server on a temp SQLite file and loopback,
// real clients, a raw generated stub (for what the client never sends), sweep YAML text, and
// read-only access to the database file for checking rows.
#ifndef ISTAR_TESTS_COORDINATOR_TEST_UTIL_H_
#define ISTAR_TESTS_COORDINATOR_TEST_UTIL_H_

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "base/clock.h"
#include "coordinator/client.h"
#include "coordinator/coordinator.h"
#include "db/store.h"
#include "gtest/gtest.h"
#include "istar/v1/coordinator.grpc.pb.h"
#include "tests/testing/scratch_dir.h"

namespace istar::coordinator::testing {

inline constexpr char kToken[] = "test-token-0123456789abcdef";

// A sweep of `trials` baseline trials (one per seed) for groups of `ranks`.
inline std::string SweepYaml(const std::string& name, int trials, int ranks = 1) {
  std::string seeds;
  for (int s = 0; s < trials; ++s) seeds += (s == 0 ? "" : ", ") + std::to_string(s);
  return "name: " + name +
         "\nmodels: {bert: /ckpt/bert}\ntasks: {sst2: /data/sst2}\ntraining:\n"
         "  ranks_per_trial: " +
         std::to_string(ranks) + "\ngrid:\n  seed: [" + seeds +
         "]\n  regularizers: [baseline]\n";
}

// A ClientContext carrying the bearer token (or none when `token` is empty).
inline std::unique_ptr<grpc::ClientContext> RawContext(const std::string& token = kToken) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  // Options the tests start from: only on-demand expiry acts (the thread waits an hour).
  CoordinatorOptions DefaultOptions() {
    return {.db_path = dir_.Path("results.db"),
            .token = kToken,
            .lease = {.ttl = std::chrono::seconds(30), .max_attempts = 3, .quarantine_after = 3},
            .expiry_interval = std::chrono::hours(1),
            .watch_interval = std::chrono::milliseconds(10),
            .clock = &clock_};
  }

  // Starts server_ with DefaultOptions() changed by `edit`.
  void StartServer(const std::function<void(CoordinatorOptions&)>& edit = {}) {
    CoordinatorOptions options = DefaultOptions();
    if (edit) edit(options);
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
        CoordinatorServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<CoordinatorClient> Connect(const std::string& token = kToken,
                                             const ClientTls& tls = {}) {
    absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Connect(
        {.address = server_->address(), .token = token, .tls = tls,
         .deadline = std::chrono::seconds(10)});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::unique_ptr<v1::Coordinator::Stub> RawStub() {
    return v1::Coordinator::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  // Submits SweepYaml(name, trials, ranks) through `client`; returns the sweep id.
  std::string Submit(CoordinatorClient& client, const std::string& name, int trials,
                     int ranks = 1) {
    absl::StatusOr<SubmittedSweep> sweep =
        client.SubmitSweep(SweepYaml(name, trials, ranks), name + ".yaml");
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep.ok() ? sweep->sweep_id : "";
  }

  // Registers `worker` and leases it a trial, which must exist.
  db::Lease MustLease(CoordinatorClient& client, const std::string& worker, int ranks = 1) {
    EXPECT_TRUE(client.RegisterWorker(worker, "host", ranks).ok());
    absl::StatusOr<std::optional<db::Lease>> lease = client.LeaseTrial(worker, ranks, nullptr);
    EXPECT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease.ok() && lease->has_value()) << "nothing to lease";
    return lease.ok() && lease->has_value() ? **lease : db::Lease{};
  }

  // The first column of the first row of `sql`, read from the file by a read-only Store.
  std::string Query(const std::string& sql) {
    absl::StatusOr<std::unique_ptr<db::Store>> store =
        db::Store::Open(dir_.Path("results.db"), {.mode = db::OpenMode::kReadOnly});
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return "";
    absl::StatusOr<db::QueryResult> result = (*store)->RunReadOnlyQuery(sql);
    EXPECT_TRUE(result.ok()) << result.status() << ": " << sql;
    if (!result.ok() || result->rows.empty() || result->rows[0].empty()) return "";
    return result->rows[0][0].text;
  }
  int64_t Count(const std::string& sql) {
    const std::string text = Query(sql);
    return text.empty() ? -1 : std::stoll(text);
  }

  ::istar::testing::ScratchDir dir_;
  FakeClock clock_;
  std::unique_ptr<CoordinatorServer> server_;
};

}  // namespace istar::coordinator::testing

#endif  // ISTAR_TESTS_COORDINATOR_TEST_UTIL_H_
