// istar dashboard: a real DashboardServer on 127.0.0.1:0 over a real SQLite file, asked over
// loopback by cpp-httplib's client; rows are written by another Store (another connection), as
// the coordinator writes them.
#include "dashboard/dashboard.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/db/test_util.h"

namespace istar::dashboard {
namespace {

using ::istar::db::testing::MakeSweep;
using ::istar::db::testing::MakeTrial;
using ::istar::db::testing::OpenStore;
using ::istar::db::testing::ScratchDir;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

// Sweep "s": trial 1 running with the union layer's isotropy at steps 0 and 10, trial 2 pending;
// worker group "w1" registered.
class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = OpenStore(path_, {.busy_timeout = milliseconds(0)});
    ASSERT_NE(writer_, nullptr);
    const std::vector<sweeps::TrialSpec> trials = {MakeTrial(1, {.seed = 0}),
                                                   MakeTrial(2, {.seed = 1})};
    first_ = trials[0].id;
    ASSERT_TRUE(writer_->SubmitSweep(MakeSweep("s", trials)).ok());
    ASSERT_TRUE(writer_->MarkTrialRunning(first_).ok());
    ASSERT_TRUE(writer_->RegisterWorker("w1", "node-7").ok());
    WriteStep(0);
    WriteStep(10);
  }

  void WriteStep(int64_t step) {
    const std::vector<db::IsotropyRow> rows = {
        {first_, step, 0.0, db::IsotropyRow::kUnionLayer, 0.5, 0.25, 0.1, std::nullopt}};
    const absl::Status status = writer_->WriteIsotropy(rows);
    ASSERT_TRUE(status.ok()) << status;
  }

  DashboardOptions Options() {
    return {.db_path = path_,
            .listen_address = "127.0.0.1:0",
            .max_wait = milliseconds(10000),
            .check_interval = milliseconds(20)};
  }

  std::unique_ptr<DashboardServer> MustStart(DashboardOptions options) {
    absl::StatusOr<std::unique_ptr<DashboardServer>> server = DashboardServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static std::unique_ptr<httplib::Client> Client(const DashboardServer& server) {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    client->set_read_timeout(60, 0);
    return client;
  }

  static json Parse(const httplib::Result& result) {
    EXPECT_TRUE(result) << httplib::to_string(result.error());
    if (!result) return json();
    EXPECT_EQ(result->status, 200) << result->body;
    return json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  }

  static std::vector<int64_t> Steps(const json& data, const std::string& trial) {
    if (!data.contains("trajectories") || !data["trajectories"].contains(trial)) return {};
    return data["trajectories"][trial]["step"].get<std::vector<int64_t>>();
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("results.db");
  std::unique_ptr<db::Store> writer_;
  std::string first_;
};

TEST_F(DashboardTest, TheDataCarriesTheQueueTheTrajectoriesAndTheLiveVersion) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(server->port()) + "/");
  const httplib::Result result = Client(*server)->Get("/api/data");
  const json data = Parse(result);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(result->get_header_value("Cache-Control"), "no-store");
  EXPECT_NE(result->get_header_value("Content-Security-Policy").find("connect-src 'self'"),
            std::string::npos);

  EXPECT_FALSE(data["live"]["version"].get<std::string>().empty());
  EXPECT_EQ(data["live"]["refresh_ms"], 2000);
  EXPECT_EQ(data["live"]["wait_ms"], 10000);
  ASSERT_EQ(data["queue"]["sweeps"].size(), 1u);
  const json& sweep = data["queue"]["sweeps"][0];
  EXPECT_EQ(sweep["name"], "s");
  EXPECT_EQ(sweep["trial_count"], 2);
  EXPECT_EQ(sweep["by_status"], json({{"pending", 1}, {"running", 1}}));
  ASSERT_EQ(data["queue"]["workers"].size(), 1u);
  EXPECT_EQ(data["queue"]["workers"][0]["id"], "w1");
  EXPECT_EQ(data["queue"]["workers"][0]["host"], "node-7");
  EXPECT_EQ(data["queue"]["workers"][0]["quarantined"], false);
  EXPECT_EQ(Steps(data, first_), (std::vector<int64_t>{0, 10}));
  EXPECT_EQ(data["trials"].size(), 2u);
}

TEST_F(DashboardTest, ThePageIsTheReportPageWithTheLiveData) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  const httplib::Result page = Client(*server)->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script type=\"application/json\" id=\"istar-data\">"),
            std::string::npos);
  EXPECT_NE(page->body.find("\"live\":{"), std::string::npos);
  EXPECT_EQ(page->body.find("@ISTAR_"), std::string::npos);  // every placeholder filled
  EXPECT_EQ(Client(*server)->Get("/no-such-page")->status, 404);
}

TEST_F(DashboardTest, AQuestionIsHeldUntilRowsArriveAndAnsweredWithThem) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  const json before = Parse(Client(*server)->Get("/api/data"));
  const std::string version = before["live"]["version"];
  std::atomic<bool> answered = false;
  // The writer waits until the question has surely reached the server, then writes.
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_FALSE(answered.load()) << "answered before anything changed";
    WriteStep(20);
  });
  const httplib::Result result = Client(*server)->Get("/api/data?after=" + version);
  answered = true;
  writer.join();
  const json after = Parse(result);
  EXPECT_EQ(Steps(after, first_), (std::vector<int64_t>{0, 10, 20}));
  EXPECT_NE(after["live"]["version"], version);
  // Asked again with the new version, nothing changes: no content once the wait is over.
  DashboardOptions quick = Options();
  quick.max_wait = milliseconds(100);
  std::unique_ptr<DashboardServer> quick_server = MustStart(quick);
  ASSERT_NE(quick_server, nullptr);
  const json quick_data = Parse(Client(*quick_server)->Get("/api/data"));
  const httplib::Result none =
      Client(*quick_server)
          ->Get("/api/data?after=" + quick_data["live"]["version"].get<std::string>());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 204);
  EXPECT_TRUE(none->body.empty());
}

TEST_F(DashboardTest, ABrowserThatAcceptsGzipGetsTheSameDataCompressed) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  const httplib::Result plain = Client(*server)->Get("/api/data");
  // What Chromium sends over HTTPS: Brotli is accepted too, and gzip is what it gets.
  const httplib::Result compressed =
      Client(*server)->Get("/api/data", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(plain && compressed);
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(compressed->get_header_value("Content-Encoding"), "gzip");
  // httplib's client undoes the gzip: the same document as the plain answer.
  EXPECT_EQ(compressed->body, plain->body);
  const httplib::Result page = Client(*server)->Get("/", {{"Accept-Encoding", "br, gzip"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->get_header_value("Content-Encoding"), "gzip");
  EXPECT_NE(page->body.find("<!DOCTYPE html>"), std::string::npos);
}

TEST_F(DashboardTest, AVersionOfAnotherServerGetsTheDataAtOnce) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  const json data = Parse(Client(*server)->Get("/api/data?after=deadbeef.3"));
  EXPECT_EQ(Steps(data, first_), (std::vector<int64_t>{0, 10}));
}

TEST_F(DashboardTest, TheWriterIsNeverBlockedWhileThePagesRead) {
  std::unique_ptr<DashboardServer> server = MustStart(Options());
  ASSERT_NE(server, nullptr);
  std::atomic<bool> stop = false;
  std::atomic<int> reads = 0;
  std::thread reader([&] {
    std::unique_ptr<httplib::Client> client = Client(*server);
    while (!stop.load()) {
      const httplib::Result result = client->Get("/api/data");
      if (result && result->status == 200) ++reads;
    }
  });
  // The writer has no busy timeout: a lock held by the dashboard would fail these writes. It
  // writes until the pages have read several times meanwhile (at least 20 writes).
  int64_t writes = 0;
  for (int64_t step = 20; (writes < 20 || reads.load() < 5) && writes < 100000; step += 10) {
    WriteStep(step);
    ++writes;
  }
  stop = true;
  reader.join();
  EXPECT_GE(reads.load(), 5);
  const json data = Parse(Client(*server)->Get("/api/data"));
  EXPECT_EQ(Steps(data, first_).size(), static_cast<size_t>(2 + writes));
}

TEST_F(DashboardTest, ATokenIsAskedOfEveryRequestWhenSet) {
  DashboardOptions options = Options();
  options.token = kToken;
  std::unique_ptr<DashboardServer> server = MustStart(options);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<httplib::Client> client = Client(*server);
  for (const char* path : {"/", "/api/data", "/healthz"}) {
    const httplib::Result refused = client->Get(path);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401) << path;
    EXPECT_NE(refused->body.find("token"), std::string::npos);
  }
  EXPECT_EQ(client->Get("/api/data", {{"Authorization", std::string("Bearer ") + kToken}})->status,
            200);
  EXPECT_EQ(client->Get(std::string("/?token=") + kToken)->status, 200);
  EXPECT_EQ(client->Get("/api/data", {{"Authorization", "Bearer 0123456789abcdef0123456789abcdeX"}})
                ->status,
            401);
  EXPECT_EQ(client->Get("/?token=short")->status, 401);
}

TEST_F(DashboardTest, ANonLoopbackAddressNeedsPermissionATokenAndTls) {
  DashboardOptions options = Options();
  options.listen_address = "0.0.0.0:0";
  const auto code_and_message = [](const DashboardOptions& o) {
    const absl::StatusOr<std::unique_ptr<DashboardServer>> server = DashboardServer::Start(o);
    return server.ok() ? std::string("ok") : std::string(server.status().message());
  };
  EXPECT_NE(code_and_message(options).find("--allow-remote"), std::string::npos);
  options.allow_remote = true;
  EXPECT_NE(code_and_message(options).find("a token is required"), std::string::npos);
  options.token = kToken;
  EXPECT_NE(code_and_message(options).find("TLS is off"), std::string::npos);
  options.insecure_plaintext = true;
  std::unique_ptr<DashboardServer> server = MustStart(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Client(*server)->Get("/api/data")->status, 401);

  DashboardOptions short_token = Options();
  short_token.token = "short";
  EXPECT_EQ(DashboardServer::Start(short_token).status().code(),
            absl::StatusCode::kInvalidArgument);
  DashboardOptions half_tls = Options();
  half_tls.tls_cert_file = dir_.Write("cert.pem", "x");
  EXPECT_EQ(DashboardServer::Start(half_tls).status().code(), absl::StatusCode::kInvalidArgument);
  DashboardOptions not_an_address = Options();
  not_an_address.listen_address = "8080";
  EXPECT_EQ(DashboardServer::Start(not_an_address).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DashboardTest, AMissingDatabaseIsNotFoundAndNeverCreated) {
  DashboardOptions options = Options();
  options.db_path = dir_.Path("missing.db");
  EXPECT_EQ(DashboardServer::Start(options).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(options.db_path));
}

TEST_F(DashboardTest, AnAddressInUseIsUnavailable) {
  std::unique_ptr<DashboardServer> first = MustStart(Options());
  ASSERT_NE(first, nullptr);
  DashboardOptions options = Options();
  options.listen_address = "127.0.0.1:" + std::to_string(first->port());
  EXPECT_EQ(DashboardServer::Start(options).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(DashboardTest, ShutdownAnswersAHeldQuestionAtOnce) {
  DashboardOptions options = Options();
  options.max_wait = milliseconds(120000);
  std::unique_ptr<DashboardServer> server = MustStart(options);
  ASSERT_NE(server, nullptr);
  const json data = Parse(Client(*server)->Get("/api/data"));
  std::unique_ptr<httplib::Client> client = Client(*server);
  std::thread question([&] {
    const httplib::Result result =
        client->Get("/api/data?after=" + data["live"]["version"].get<std::string>());
    // Stopping answers "nothing new" (or closes the connection); it never waits out max_wait.
    if (result) {
      EXPECT_EQ(result->status, 204);
    }
  });
  std::this_thread::sleep_for(milliseconds(200));
  server->Shutdown();
  question.join();     // a hang here is the bug (ctest's timeout ends it)
  server->Shutdown();  // idempotent
}

TEST_F(DashboardTest, TlsServesHttpsWithTheGivenCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl (the command) is not installed: no certificate to test TLS with";
  }
  const std::string cert = dir_.Path("cert.pem");
  const std::string key = dir_.Path("key.pem");
  const std::string make =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  DashboardOptions options = Options();
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  std::unique_ptr<DashboardServer> server = MustStart(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url(), "https://127.0.0.1:" + std::to_string(server->port()) + "/");
  httplib::SSLClient https("127.0.0.1", server->port());
  https.set_ca_cert_path(cert.c_str());
  https.enable_server_certificate_verification(true);
  const httplib::Result result = https.Get("/healthz");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  // Plain HTTP to the HTTPS port gets no answer.
  const httplib::Result plain = Client(*server)->Get("/healthz");
  EXPECT_TRUE(!plain || plain->status != 200);

  DashboardOptions swapped = options;
  swapped.tls_cert_file = key;
  swapped.tls_key_file = cert;
  EXPECT_EQ(DashboardServer::Start(swapped).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::dashboard
