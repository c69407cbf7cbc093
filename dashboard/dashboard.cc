#include "dashboard/dashboard.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/listen_address.h"
#include "base/status_macros.h"
#include "db/store.h"

namespace istar::dashboard {
namespace {

constexpr size_t kMinTokenLength = 16;
// The server's threads, and how many of them may hold a question for newer data at once: the
// rest stay free for pages, data and health checks. A question over the limit is answered "no
// change" at once; its page asks again after its refresh interval.
constexpr int kServerThreads = 32;
constexpr int kMaxHeldQuestions = 24;

// Every answer's headers. The page is one file with inline scripts and styles that only talks
// to its own origin (the data); the token may be in its URL, so no Referer carries it away.
const httplib::Headers& CommonHeaders() {
  static const auto* headers = new httplib::Headers{
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'"}};
  return *headers;
}

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

absl::StatusOr<HostPort> ParseListen(const std::string& address) {
  const size_t colon = address.rfind(':');
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" is not host:port (e.g. 127.0.0.1:8080)"));
  };
  if (colon == std::string::npos || colon == 0) return bad();
  HostPort out{.host = HostOfAddress(address)};
  if (!absl::SimpleAtoi(address.substr(colon + 1), &out.port) || out.port < 0 || out.port > 65535) {
    return bad();
  }
  return out;
}

absl::Status CheckReadable(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  return absl::OkStatus();
}

absl::Status Validate(const DashboardOptions& options, const HostPort& listen) {
  if (options.db_path.empty()) return absl::InvalidArgumentError("db_path: required");
  if (!options.token.empty() && options.token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("token: must have at least ", kMinTokenLength,
                                                   " characters (e.g. `openssl rand -hex 32`)"));
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and its key (--tls-cert, --tls-key)");
  }
  if (!options.tls_cert_file.empty()) {
    ISTAR_RETURN_IF_ERROR(CheckReadable("--tls-cert", options.tls_cert_file));
    ISTAR_RETURN_IF_ERROR(CheckReadable("--tls-key", options.tls_key_file));
  }
  if (!IsLoopbackHost(listen.host)) {
    const std::string address = options.listen_address;
    if (!options.allow_remote) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listen address ", address,
          " is not a loopback address; allow remote browsers explicitly (--allow-remote, with a "
          "token and TLS)"));
    }
    if (options.token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listen address ", address,
          " is not a loopback address: a token is required (--token-file or $ISTAR_TOKEN)"));
    }
    if (options.tls_cert_file.empty() && !options.insecure_plaintext) {
      return absl::InvalidArgumentError(absl::StrCat(
          "listen address ", address,
          " is not a loopback address and TLS is off: the token would cross the network in "
          "clear; give a certificate (--tls-cert, --tls-key), or --insecure-plaintext on a "
          "network you trust"));
    }
  }
  if (options.refresh.count() < 1 || options.max_wait.count() < 1 ||
      options.check_interval.count() < 1) {
    return absl::InvalidArgumentError("refresh, max_wait and check_interval must be positive");
  }
  return absl::OkStatus();
}

// Equal tokens, compared in time independent of where they differ.
bool SameToken(const std::string& given, const std::string& expected) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

// Note [Compressed once]
// httplib compresses each response itself, preferring Brotli at its highest quality when the
// browser accepts "br" (Chromium does over HTTPS): 48 s for the 25 MB data of a 2,000-trial
// database on this machine, on every answer. The dashboard compresses each body once, when its
// data is built, with gzip at zlib's fastest level (0.3 s, about a fifth of the size), and hands
// httplib bodies of known length, which it sends as they are.
absl::StatusOr<std::string> Gzip(std::string_view text) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper; memLevel 8 is zlib's default.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, text.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) {
    return absl::InternalError(absl::StrCat("zlib: deflate returned ", result));
  }
  return out;
}

// A body, as it is and gzip-compressed.
struct Body {
  std::string plain;
  std::string gzip;
};

absl::StatusOr<Body> MakeBody(std::string plain) {
  ISTAR_ASSIGN_OR_RETURN(std::string gzip, Gzip(plain));
  return Body{std::move(plain), std::move(gzip)};
}

// The data as the page gets it, and the data_version of the file it was built from.
struct Snapshot {
  int64_t data_version = 0;
  Body data;  // the JSON
  Body page;  // the report's page with the JSON
};

// Answers with `body`, gzip-compressed when the browser accepts it. The snapshot holding the
// body stays alive until httplib has sent it.
void SendBody(const httplib::Request& request, httplib::Response& response,
              std::shared_ptr<const Snapshot> snapshot, const Body& body,
              const std::string& content_type) {
  const bool gzip = request.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
  const std::string& bytes = gzip ? body.gzip : body.plain;
  if (gzip) response.set_header("Content-Encoding", "gzip");
  response.set_header("Vary", "Accept-Encoding");
  response.set_content_provider(
      bytes.size(), content_type,
      [snapshot, &bytes](size_t offset, size_t length, httplib::DataSink& sink) {
        return sink.write(bytes.data() + offset, length);
      });
}

class Server final : public DashboardServer {
 public:
  Server(DashboardOptions options, HostPort listen, std::unique_ptr<db::Store> store,
         std::unique_ptr<httplib::Server> http)
      : options_(std::move(options)),
        listen_(std::move(listen)),
        nonce_(absl::StrFormat("%08x", absl::Uniform<uint32_t>(absl::BitGen()))),
        store_(std::move(store)),
        http_(std::move(http)) {}

  ~Server() override { Shutdown(); }

  absl::Status Serve() {
    ISTAR_RETURN_IF_ERROR(Current().status());  // a database the report cannot read fails here
    Routes();
    if (listen_.port == 0) {
      port_ = http_->bind_to_any_port(listen_.host);
    } else if (http_->bind_to_port(listen_.host, listen_.port)) {
      port_ = listen_.port;
    } else {
      port_ = -1;
    }
    if (port_ <= 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address,
                                                 " (in use, or not an address of this machine)"));
    }
    const std::string host = AdvertisedHost(listen_.host);
    url_ = absl::StrCat(options_.tls_cert_file.empty() ? "http" : "https", "://",
                        host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host,
                        ":", port_, "/");
    // The socket listens already (bind_to_port): connections wait in its backlog until the
    // thread accepts them. Its loop must have started before Start returns: httplib's stop()
    // does nothing to a server not yet running, so a Shutdown in between would wait forever.
    thread_ = std::thread([this] {
      http_->listen_after_bind();
      listen_returned_ = true;
    });
    while (!http_->is_running() && !listen_returned_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  std::string url() const override { return url_; }

  void Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
      stop_.SignalAll();
    }
    http_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  // The data of the file as it is now: built again only when the file's data_version moved.
  // One build at a time; pages asking meanwhile wait for it and share it.
  absl::StatusOr<std::shared_ptr<const Snapshot>> Current() {
    absl::MutexLock build(&build_mu_);
    ISTAR_ASSIGN_OR_RETURN(const int64_t version, store_->DataVersion());
    {
      absl::MutexLock lock(&mu_);
      if (snapshot_ != nullptr && snapshot_->data_version == version) return snapshot_;
    }
    // Note [Data newer than its version]
    // The version is read before the data, and the data's reads are snapshots of their own: a
    // commit between them gives data newer than its version says. The page then asks with the
    // older version, sees it moved, and gets the data again: an extra build, never a missed row.
    report::ReportOptions report = options_.report;
    report.live = report::LiveOptions{.version = VersionString(version),
                                      .refresh_ms = options_.refresh.count(),
                                      .wait_ms = options_.max_wait.count()};
    const absl::Time started = absl::Now();
    ISTAR_ASSIGN_OR_RETURN(std::string json, report::ReportData(*store_, report));
    std::string page = report::AssemblePage(json);
    ISTAR_ASSIGN_OR_RETURN(Body data, MakeBody(std::move(json)));
    ISTAR_ASSIGN_OR_RETURN(Body html, MakeBody(std::move(page)));
    auto snapshot =
        std::make_shared<const Snapshot>(Snapshot{version, std::move(data), std::move(html)});
    Log(absl::StrFormat("data of version %d built in %.2f s (%d bytes, %d gzip-compressed)",
                        version, absl::ToDoubleSeconds(absl::Now() - started),
                        snapshot->data.plain.size(), snapshot->data.gzip.size()));
    absl::MutexLock lock(&mu_);
    snapshot_ = snapshot;
    return snapshot;
  }

  std::string VersionString(int64_t data_version) const {
    return absl::StrCat(nonce_, ".", data_version);
  }

  // Waits until the file's data_version differs from `seen`, `deadline` passes or the server
  // stops. True when it changed.
  absl::StatusOr<bool> WaitForChange(int64_t seen, absl::Time deadline) {
    while (true) {
      ISTAR_ASSIGN_OR_RETURN(const int64_t version, store_->DataVersion());
      if (version != seen) return true;
      absl::MutexLock lock(&mu_);
      const absl::Time now = absl::Now();
      if (stopped_ || now >= deadline) return false;
      stop_.WaitWithDeadline(&mu_,
                             std::min(deadline, now + absl::FromChrono(options_.check_interval)));
      if (stopped_) return false;
    }
  }

  bool Authorized(const httplib::Request& request) const {
    if (options_.token.empty()) return true;
    const std::string header = request.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.starts_with(kBearer) && SameToken(header.substr(kBearer.size()), options_.token)) {
      return true;
    }
    return request.has_param("token") &&
           SameToken(request.get_param_value("token"), options_.token);
  }

  void Fail(httplib::Response& response, const absl::Status& status) const {
    Log(absl::StrCat("error: ", status.ToString()));
    response.status = status.code() == absl::StatusCode::kUnavailable ? 503 : 500;
    response.set_content(absl::StrCat("istar dashboard: ", status.message(), "\n"),
                         "text/plain; charset=utf-8");
  }

  void Routes() {
    http_->set_default_headers(CommonHeaders());
    http_->set_pre_routing_handler(
        [this](const httplib::Request& request, httplib::Response& response) {
          if (Authorized(request)) return httplib::Server::HandlerResponse::Unhandled;
          response.status = 401;
          response.set_header("WWW-Authenticate", "Bearer realm=\"istar dashboard\"");
          response.set_content(
              "istar dashboard: a token is required: open the address with ?token=TOKEN, or send "
              "\"Authorization: Bearer TOKEN\" (docs/dashboard.md)\n",
              "text/plain; charset=utf-8");
          return httplib::Server::HandlerResponse::Handled;
        });
    // The request's path only: a token in the query never reaches a log.
    http_->set_logger([this](const httplib::Request& request, const httplib::Response& response) {
      Log(absl::StrCat(request.method, " ", request.path, " ", response.status));
    });
    http_->Get("/", [this](const httplib::Request& request, httplib::Response& response) {
      absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot = Current();
      if (!snapshot.ok()) return Fail(response, snapshot.status());
      SendBody(request, response, *snapshot, (*snapshot)->page, "text/html; charset=utf-8");
    });
    http_->Get("/api/data", [this](const httplib::Request& request, httplib::Response& response) {
      AnswerData(request, response);
    });
    http_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("ok\n", "text/plain");
    });
  }

  // GET /api/data[?after=VERSION]: the data at once, or, when VERSION is this server's current
  // one, held until the file changes (200 with the new data) or max_wait passes (204).
  void AnswerData(const httplib::Request& request, httplib::Response& response) {
    const std::string after = request.has_param("after") ? request.get_param_value("after") : "";
    int64_t seen = 0;
    const std::string ours = absl::StrCat(nonce_, ".");
    // A version of another run of the server (or none) is answered with the data at once.
    if (after.starts_with(ours) && absl::SimpleAtoi(after.substr(ours.size()), &seen)) {
      bool hold = false;
      {
        absl::MutexLock lock(&mu_);
        if (held_ < kMaxHeldQuestions) {
          ++held_;
          hold = true;
        }
      }
      absl::StatusOr<bool> changed = false;
      if (hold) {
        changed = WaitForChange(seen, absl::Now() + absl::FromChrono(options_.max_wait));
        absl::MutexLock lock(&mu_);
        --held_;
      } else {
        absl::StatusOr<int64_t> version = store_->DataVersion();
        changed = version.ok() ? absl::StatusOr<bool>(*version != seen) : version.status();
      }
      if (!changed.ok()) return Fail(response, changed.status());
      if (!*changed) {
        response.status = 204;
        return;
      }
    }
    absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot = Current();
    if (!snapshot.ok()) return Fail(response, snapshot.status());
    SendBody(request, response, *snapshot, (*snapshot)->data, "application/json");
  }

  const DashboardOptions options_;
  const HostPort listen_;
  // Random per start: the version a page holds from another run of the server (restarted on
  // another file, or after the file was replaced) is never taken for one of ours.
  const std::string nonce_;
  const std::unique_ptr<db::Store> store_;
  const std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::atomic<bool> listen_returned_ = false;
  int port_ = 0;
  std::string url_;

  absl::Mutex build_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  absl::CondVar stop_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(DashboardOptions options) {
  ISTAR_ASSIGN_OR_RETURN(HostPort listen, ParseListen(options.listen_address));
  ISTAR_RETURN_IF_ERROR(Validate(options, listen));
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<db::Store> store,
                         db::Store::Open(options.db_path, {.mode = db::OpenMode::kReadOnly}));
  std::unique_ptr<httplib::Server> http;
  if (options.tls_cert_file.empty()) {
    http = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                                    options.tls_key_file.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS: ", options.tls_cert_file, " and ", options.tls_key_file,
                       " are not a PEM certificate and its private key"));
    }
    http = std::move(tls);
  }
  http->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // httplib's default options add SO_REUSEPORT, with which a second dashboard on the same port
  // would share it silently (the kernel spreads the connections between the two). SO_REUSEADDR
  // alone: a restarted dashboard gets its port back at once, a second one is refused.
  http->set_socket_options([](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  auto server = std::make_unique<Server>(std::move(options), std::move(listen), std::move(store),
                                         std::move(http));
  ISTAR_RETURN_IF_ERROR(server->Serve());
  return server;
}

}  // namespace istar::dashboard
