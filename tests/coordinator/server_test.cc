// The server's edges: bearer tokens, requests that once hurt it (found by
// fuzz/coordinator_fuzzer.cc), option validation, TLS and mutual TLS, over loopback.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/client.h"
#include "coordinator/coordinator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_util.h"

namespace istar::coordinator {
namespace {

using ::istar::coordinator::testing::CoordinatorTest;
using ::istar::coordinator::testing::kToken;
using ::istar::coordinator::testing::RawContext;
using ::testing::HasSubstr;

using CoordinatorAuthTest = CoordinatorTest;

TEST_F(CoordinatorAuthTest, MissingTokenIsUnauthenticatedOnUnaryAndStreamCalls) {
  StartServer();
  auto stub = RawStub();
  v1::GetSweepRequest request;
  request.set_sweep("anything");
  v1::GetSweepResponse response;
  auto context = RawContext(/*token=*/"");
  const grpc::Status unary = stub->GetSweep(context.get(), request, &response);
  EXPECT_EQ(unary.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unary.error_message(), HasSubstr("missing"));

  auto stream_context = RawContext("");
  v1::WatchSweepRequest watch;
  watch.set_sweep("anything");
  auto reader = stub->WatchSweep(stream_context.get(), watch);
  v1::TrialEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // The server keeps serving callers that carry the token.
  auto client = Connect();
  EXPECT_TRUE(client->SubmitSweep(testing::SweepYaml("s", 1), "s.yaml").ok());
}

TEST_F(CoordinatorAuthTest, WrongTokenIsUnauthenticatedOnUnaryAndStreamCalls) {
  StartServer();
  auto wrong = Connect("not-the-token-but-long-enough");
  const absl::Status unary = wrong->RegisterWorker("w", "h", 1).status();
  EXPECT_EQ(unary.code(), absl::StatusCode::kUnauthenticated) << unary;
  EXPECT_THAT(std::string(unary.message()), HasSubstr("wrong"));
  const db::MetricRow row{.trial_id = std::string(64, 'a'), .split = "train", .name = "loss"};
  const absl::Status stream = wrong->ReportMetrics(std::string(64, 'a'), 1, {&row, 1}, {});
  EXPECT_EQ(stream.code(), absl::StatusCode::kUnauthenticated) << stream;
  const absl::Status watch = wrong->WatchSweep("s", [](const TrialEvent&) {});
  EXPECT_EQ(watch.code(), absl::StatusCode::kUnauthenticated) << watch;

  auto right = Connect();
  EXPECT_TRUE(right->RegisterWorker("w", "h", 1).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM workers"), 1);  // only the authenticated call wrote
}

using CoordinatorRequestTest = CoordinatorTest;

// Found by fuzz/coordinator_fuzzer.cc: an error quoting 30,000 bytes of the request came back as
// RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" (gRPC sends the message as a
// header), losing the code and the message. Note [Status message length].
TEST_F(CoordinatorRequestTest, ALongErrorMessageArrivesCutWithItsCode) {
  StartServer();
  auto client = Connect();
  const absl::Status long_source =
      client->SubmitSweep("name: x\nmodels: {bert: /a}\n", std::string(30'000, 's')).status();
  EXPECT_EQ(long_source.code(), absl::StatusCode::kInvalidArgument) << long_source.code();
  EXPECT_THAT(std::string(long_source.message()), ::testing::StartsWith(std::string(1000, 's')));
  EXPECT_THAT(std::string(long_source.message()), HasSubstr("more bytes)"));
  EXPECT_LT(long_source.message().size(), 1100u);
  // A long value quoted from the file, in two-byte characters ("é"): with source names of both
  // parities the cut falls once between the bytes of a character, and is moved before it.
  std::string yaml = "name: x\nmodels: {bert: /a}\ntasks: {sst2: /b}\ngrid:\n  seed: [";
  for (int k = 0; k < 10'000; ++k) yaml += "\xc3\xa9";
  yaml += "]\n  regularizers: [baseline]\n";
  for (const std::string source : {"s.yaml", "s2.yaml"}) {
    const absl::Status long_value = client->SubmitSweep(yaml, source).status();
    EXPECT_EQ(long_value.code(), absl::StatusCode::kInvalidArgument) << long_value.code();
    const std::string message(long_value.message());
    const std::string kept = message.substr(0, message.find("... ("));
    ASSERT_GT(kept.size(), 1000u) << message.substr(0, 300);
    EXPECT_EQ(static_cast<unsigned char>(kept.back()), 0xa9) << source;  // a whole "é"
  }
}

// Found by fuzz/coordinator_fuzzer.cc: a ListTrials naming one state 60,000 times held the store
// (and every other call) for seconds, since SQLite looks numbered parameters up one by one;
// 100,000 took 26 s. Each state now counts once.
TEST_F(CoordinatorRequestTest, ListTrialsTakesARepeatedStateOnce) {
  StartServer();
  auto client = Connect();
  Submit(*client, "s", 2);
  v1::ListTrialsRequest request;
  request.set_sweep("s");
  for (int k = 0; k < 100'000; ++k) request.add_states(v1::TRIAL_STATE_PENDING);
  request.add_states(v1::TRIAL_STATE_DONE);
  v1::ListTrialsResponse response;
  auto context = RawContext();  // a 10 s deadline
  const grpc::Status status = RawStub()->ListTrials(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(response.trials_size(), 2);
}

// Found by fuzz/coordinator_fuzzer.cc: a metric batch the server cannot parse (here a name that
// is not UTF-8, which protobuf serializes but will not parse) ended the stream there and the call
// answered OK, losing it and every batch after it. Note [Batches the server could not read].
TEST_F(CoordinatorRequestTest, AMetricBatchTheServerCannotReadIsAnErrorNotALoss) {
  StartServer();
  auto client = Connect();
  Submit(*client, "s", 1);
  const db::Lease lease = MustLease(*client, "w");
  std::vector<db::MetricRow> rows;
  for (const char* name : {"loss", "bad\xff", "accuracy"}) {
    rows.push_back({.trial_id = lease.trial_id, .step = 1, .split = "train", .name = name});
  }
  const absl::Status reported =
      client->ReportMetrics(lease.trial_id, lease.fencing_token, rows, {}, /*batch_rows=*/1);
  EXPECT_EQ(reported.code(), absl::StatusCode::kInvalidArgument) << reported;
  EXPECT_THAT(std::string(reported.message()),
              HasSubstr("the coordinator stored 1 of 3 metric batches; batch 2 could not be read"));
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 1);
  // Readable batches are stored and counted as before.
  rows.erase(rows.begin() + 1);
  EXPECT_TRUE(client->ReportMetrics(lease.trial_id, lease.fencing_token, rows, {}, 1).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM metrics"), 2);
}

// A coordinator newer than its client, answering with a regularizer and a trial state this build
// does not know. Note [Unknown names on the wire].
class NewerCoordinator final : public v1::Coordinator::Service {
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest*,
                          v1::ListTrialsResponse* response) override {
    v1::TrialSummary* trial = response->add_trials();
    trial->set_trial_id(std::string(64, 'a'));
    trial->set_state(v1::TRIAL_STATE_PENDING);
    trial->set_regularizer("barlow_twins");  // not in this istar's catalogue
    return grpc::Status::OK;
  }
  grpc::Status GetSweep(grpc::ServerContext*, const v1::GetSweepRequest*,
                        v1::GetSweepResponse* response) override {
    response->set_sweep_id(std::string(64, 'b'));
    v1::StateCount* count = response->add_counts();
    count->set_state(static_cast<v1::TrialState>(42));
    count->set_count(3);
    return grpc::Status::OK;
  }
};

TEST(CoordinatorClientTest, NamesItDoesNotKnowAreAnErrorNotADefault) {
  NewerCoordinator service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client =
      CoordinatorClient::Connect({.address = "127.0.0.1:" + std::to_string(port), .token = kToken});
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Status trials = (*client)->ListTrials("s", {}).status();
  EXPECT_EQ(trials.code(), absl::StatusCode::kFailedPrecondition) << trials;
  EXPECT_THAT(
      std::string(trials.message()),
      HasSubstr("regularizer \"barlow_twins\" for trial aaaaaaaaaaaa, which this istar does "
                "not know: use an istar of the coordinator's version"));
  const absl::Status sweep = (*client)->GetSweep("s").status();
  EXPECT_EQ(sweep.code(), absl::StatusCode::kFailedPrecondition) << sweep;
  EXPECT_THAT(std::string(sweep.message()), HasSubstr("trial state 42"));
  server->Shutdown();
}

using CoordinatorOptionsTest = CoordinatorTest;

TEST_F(CoordinatorOptionsTest, InvalidOptionsAreInvalidArgument) {
  const auto start = [&](const std::function<void(CoordinatorOptions&)>& edit) {
    CoordinatorOptions options = DefaultOptions();
    edit(options);
    return CoordinatorServer::Start(std::move(options)).status();
  };
  const absl::Status short_token = start([](auto& o) { o.token = "short"; });
  EXPECT_EQ(short_token.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_token.message()), HasSubstr("token"));
  const absl::Status remote = start([](auto& o) { o.listen_address = "0.0.0.0:0"; });
  EXPECT_EQ(remote.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(remote.message()), HasSubstr("loopback"));
  // Allowed, but plaintext to the network is refused until asked for by name.
  const absl::Status plaintext = start([](auto& o) {
    o.listen_address = "0.0.0.0:0";
    o.allow_remote = true;
  });
  EXPECT_EQ(plaintext.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plaintext.message()), HasSubstr("TLS is off"));
  const absl::Status no_db = start([](auto& o) { o.db_path.clear(); });
  EXPECT_EQ(no_db.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_db.message()), HasSubstr("db_path"));
  const absl::Status half_tls = start([](auto& o) { o.tls.cert_file = "server.pem"; });
  EXPECT_EQ(half_tls.code(), absl::StatusCode::kInvalidArgument) << half_tls;
}

TEST_F(CoordinatorOptionsTest, NonLoopbackPlaintextStartsOnlyWhenAskedFor) {
  CoordinatorOptions options = DefaultOptions();
  options.listen_address = "0.0.0.0:0";
  options.allow_remote = true;
  options.insecure_plaintext = true;
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_GT((*server)->port(), 0);
  (*server)->Shutdown(std::chrono::milliseconds(100));
}

TEST_F(CoordinatorOptionsTest, PortInUseIsUnavailable) {
  StartServer();
  CoordinatorOptions options = DefaultOptions();
  options.db_path = dir_.Path("other.db");
  options.listen_address = "127.0.0.1:" + std::to_string(server_->port());
  const absl::Status second = CoordinatorServer::Start(std::move(options)).status();
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable) << second;
  // The first server still answers.
  EXPECT_TRUE(Connect()->RegisterWorker("w", "h", 1).ok());
}

// ---- TLS, with certificates made by the openssl command line for each test.
class CoordinatorTlsTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "the openssl command is not installed: cannot make test certificates";
    }
    const std::string d = dir_.dir().string();
    const std::string key = "openssl ecparam -name prime256v1 -genkey -noout -out ";
    const std::string sign = "openssl x509 -req -days 1 -CA " + d + "/ca.pem -CAkey " + d +
                             "/ca.key -CAcreateserial ";
    const std::string script =
        "set -e; cd " + d + "; " + key + "ca.key; " +
        "openssl req -x509 -new -key ca.key -subj /CN=istar-test-ca -days 1 -out ca.pem; " +
        key + "server.key; openssl req -new -key server.key -subj /CN=localhost -out server.csr; " +
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext; " + sign +
        "-in server.csr -extfile server.ext -out server.pem; " + key +
        "client.key; openssl req -new -key client.key -subj /CN=worker -out client.csr; " +
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext; " + sign +
        "-in client.csr -extfile client.ext -out client.pem";
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0)
        << "openssl failed: " << script;
  }
  std::string File(const std::string& name) { return dir_.Path(name); }

  // A client of `tls` whose calls give up quickly (a failed handshake is retried until then).
  std::unique_ptr<CoordinatorClient> TlsClient(const ClientTls& tls) {
    absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Connect(
        {.address = server_->address(), .token = kToken, .tls = tls,
         .deadline = std::chrono::seconds(3)});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }
};

TEST_F(CoordinatorTlsTest, TlsServerAcceptsTlsClientsAndRefusesPlaintext) {
  StartServer([&](CoordinatorOptions& o) {
    o.tls = {.cert_file = File("server.pem"), .key_file = File("server.key")};
  });
  auto tls = TlsClient({.ca_file = File("ca.pem")});
  EXPECT_TRUE(tls->RegisterWorker("w", "h", 1).ok());
  auto named = TlsClient({.ca_file = File("ca.pem"), .server_name = "localhost"});
  EXPECT_TRUE(named->RegisterWorker("w", "h", 1).ok());
  const absl::Status plain = TlsClient({})->RegisterWorker("w", "h", 1).status();
  EXPECT_EQ(plain.code(), absl::StatusCode::kUnavailable) << plain;
}

TEST_F(CoordinatorTlsTest, MutualTlsServerRequiresAClientCertificate) {
  StartServer([&](CoordinatorOptions& o) {
    o.tls = {.cert_file = File("server.pem"), .key_file = File("server.key"),
             .client_ca_file = File("ca.pem")};
  });
  const absl::Status without =
      TlsClient({.ca_file = File("ca.pem")})->RegisterWorker("w", "h", 1).status();
  EXPECT_EQ(without.code(), absl::StatusCode::kUnavailable) << without;
  auto with = TlsClient({.ca_file = File("ca.pem"), .cert_file = File("client.pem"),
                         .key_file = File("client.key")});
  EXPECT_TRUE(with->RegisterWorker("w", "h", 1).ok());
  // The certificate does not replace the bearer token.
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> no_token = CoordinatorClient::Connect(
      {.address = server_->address(), .token = "wrong-token-but-long-enough",
       .tls = {.ca_file = File("ca.pem"), .cert_file = File("client.pem"),
               .key_file = File("client.key")}});
  ASSERT_TRUE(no_token.ok());
  EXPECT_EQ((*no_token)->RegisterWorker("w", "h", 1).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace istar::coordinator
