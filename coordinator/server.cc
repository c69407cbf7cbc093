// CoordinatorServer: the gRPC server, its store and its expiry thread (coordinator/coordinator.h).
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/listen_address.h"
#include "base/status_macros.h"
#include "coordinator/coordinator.h"
#include "coordinator/internal/auth.h"
#include "coordinator/internal/service.h"
#include "db/store.h"

namespace istar::coordinator {
namespace {

// The shortest token accepted: 16 characters are 96+ bits from a base64 generator.
constexpr size_t kMinTokenLength = 16;

absl::Status Validate(const CoordinatorOptions& options) {
  if (options.db_path.empty()) return absl::InvalidArgumentError("db_path: required");
  if (options.token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("token: must have at least ", kMinTokenLength,
                                                   " characters (e.g. `openssl rand -hex 32`)"));
  }
  if (options.listen_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", options.listen_address, "\" is not host:port"));
  }
  if (!IsLoopbackHost(HostOfAddress(options.listen_address)) && !options.allow_remote) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address ", options.listen_address,
                     " is not a loopback address; allow remote clients explicitly (and use TLS)"));
  }
  if (!IsLoopbackHost(HostOfAddress(options.listen_address)) && options.tls.cert_file.empty() &&
      !options.insecure_plaintext) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address ", options.listen_address,
        " is not a loopback address and TLS is off: the bearer token would cross the network in "
        "clear; give a certificate (--tls-cert, --tls-key), or --insecure-plaintext on a network "
        "you trust"));
  }
  if (options.lease.ttl.count() < 10 || options.lease.max_attempts < 1 ||
      options.lease.quarantine_after < 0) {
    return absl::InvalidArgumentError(
        "lease: ttl must be >= 10 ms, max_attempts >= 1, quarantine_after >= 0");
  }
  if (options.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("max_message_bytes: must be >= 1024");
  }
  return absl::OkStatus();
}

class Server final : public CoordinatorServer {
 public:
  explicit Server(CoordinatorOptions options) : options_(std::move(options)) {}
  ~Server() override { Shutdown(std::chrono::seconds(5)); }

  absl::Status Start() {
    ISTAR_RETURN_IF_ERROR(Validate(options_));
    ISTAR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                           internal::ServerCredentials(options_.tls));
    ISTAR_ASSIGN_OR_RETURN(store_, db::Store::Open(options_.db_path, {.clock = options_.clock}));
    // Before the first expiry: see Note [Grace after a restart] in db/internal/leases.cc.
    ISTAR_RETURN_IF_ERROR(store_->GraceLeasesAfterRestart(options_.lease).status());
    service_ = std::make_unique<internal::Service>(*store_, options_, stopping_);
    grpc::ServerBuilder builder;
    // gRPC sets SO_REUSEPORT by default: a second coordinator on a taken port would then start
    // "successfully" and the kernel would split clients between the two.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(options_.listen_address, credentials, &port_);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    builder.SetMaxSendMessageSize(options_.max_message_bytes);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options_.listen_address, " (address in use?)"));
    }
    expiry_ = std::thread([this] { ExpireLoop(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  std::string address() const override {
    const std::string host = AdvertisedHost(HostOfAddress(options_.listen_address));
    return absl::StrCat(host.find(':') != std::string::npos ? "[" + host + "]" : host, ":",
                        port_);
  }

  void Shutdown(std::chrono::milliseconds grace) override {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    stopping_.store(true);
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + grace);
    if (expiry_.joinable()) expiry_.join();
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }

  void Wait() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&finished_));
  }

 private:
  // Note [Expiry thread]: LeaseTrial expires overdue leases itself, but a sweep whose last
  // worker died would otherwise keep its trials leased until someone asks; this thread puts them
  // back in the queue within expiry_interval of their expiry, so `istar sweep status` is honest.
  void ExpireLoop() {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&shut_down_),
                             absl::FromChrono(options_.expiry_interval));
        if (shut_down_) return;
      }
      // A failure here (a busy database) is retried at the next tick.
      store_->ExpireLeases(options_.lease).status().IgnoreError();
    }
  }

  const CoordinatorOptions options_;
  std::unique_ptr<db::Store> store_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<internal::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread expiry_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    CoordinatorOptions options) {
  auto server = std::make_unique<Server>(std::move(options));
  ISTAR_RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<CoordinatorServer>(std::move(server));
}

}  // namespace istar::coordinator
