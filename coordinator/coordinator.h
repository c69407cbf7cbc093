// File: coordinator/coordinator.h
// -----------------------------------------------------------------------------
// The coordinator: the gRPC service (proto/istar/v1/coordinator.proto) that holds a sweep's queue
// of trials and leases them to worker groups, and the only writer of the results database
// (docs/coordinator.md). LibTorch-free: it runs on a head node without a GPU stack.
//
// It avoids by construction what goes wrong with sweep tools: a trial's lease expires when its
// heartbeats stop, so no trial stays "running" after its node died; leases and reports carry a
// fencing token, so a late report from an old lease changes nothing; the database has one writer,
// so it is never "locked"; every call needs a bearer token.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(auto server, coordinator::CoordinatorServer::Start({
//       .db_path = "results.db", .token = ReadTokenFile("token")}));
//   std::cout << "listening on " << server->address() << "\n";
//   WaitForSigterm();
//   server->Shutdown(std::chrono::seconds(10));   // drain in-flight calls, then stop
//
// Thread safety: CoordinatorServer's methods are thread-safe.
#ifndef ISTAR_COORDINATOR_COORDINATOR_H_
#define ISTAR_COORDINATOR_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "db/records.h"

namespace istar::coordinator {

// Certificates for TLS, as PEM file paths. All empty: plaintext (loopback only).
struct ServerTls {
  std::string cert_file;  // the server's certificate chain
  std::string key_file;   // its private key
  // Mutual TLS when set: clients must present a certificate signed by this CA.
  std::string client_ca_file;
};

struct CoordinatorOptions {
  // The results database; created if missing. Required.
  std::string db_path;
  // host:port to listen on. Port 0 picks a free port (see CoordinatorServer::port()). Anything
  // but a loopback address needs allow_remote (plaintext to the network is a mistake too easy
  // to make).
  std::string listen_address = "127.0.0.1:0";
  bool allow_remote = false;
  // A non-loopback address also needs TLS, or this set: plaintext on purpose, for a network the
  // user trusts (the bearer token crosses it in clear).
  bool insecure_plaintext = false;
  // The bearer token every call must carry ("authorization: Bearer <token>"). Required, at
  // least 16 characters. Read it from a file or the environment, never from a command line.
  std::string token;
  ServerTls tls;
  // Lease length, attempts per trial, quarantine threshold.
  db::LeasePolicy lease;
  // A lease whose heartbeats report the same progress (steps begun) for longer than this is
  // failed as hung, retryable: a group stuck in a collective keeps heartbeating but must not
  // keep its trial (docs/worker.md, "Hangs"). Zero: no such check.
  std::chrono::milliseconds hang_timeout{0};
  // How often expired leases are looked for (LeaseTrial also expires them on demand).
  std::chrono::milliseconds expiry_interval{1'000};
  // How often WatchSweep looks for changes.
  std::chrono::milliseconds watch_interval{200};
  // Largest message accepted, in bytes (a metric batch of ~100,000 rows fits in 4 MiB).
  int max_message_bytes = 4 << 20;
  // Time for leases and rows; null: SystemClock(). Must outlive the server.
  const Clock* clock = nullptr;
  // Lines for whoever runs the coordinator (`istar coordinator` prints them on stderr): today, a
  // database that cannot be written because its disk is full, at most once per 30 s while it
  // lasts. Called from gRPC's threads; null: not told.
  std::function<void(const std::string&)> log;
};

// A running coordinator. Start() returns once it listens; the destructor shuts it down.
class CoordinatorServer {
 public:
  // Opens the store (migrating it), starts listening and the expiry thread. InvalidArgument for
  // bad options (no db_path, a short token, a non-loopback address without allow_remote or
  // without TLS unless insecure_plaintext, TLS
  // files missing or half given); the store's errors; Unavailable if the address cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      CoordinatorOptions options);

  virtual ~CoordinatorServer() = default;

  // The port it listens on (the chosen one when the address asked for port 0).
  virtual int port() const = 0;
  // host:port to give clients; a wildcard host (0.0.0.0, [::]) is given as this machine's name.
  virtual std::string address() const = 0;

  // Stops accepting calls, lets in-flight ones finish for up to `grace` (then cancels them),
  // stops the expiry thread. Idempotent. Leases stay in the database: a restarted coordinator
  // on the same file carries on.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;
  // Blocks until Shutdown() has completed.
  virtual void Wait() = 0;
};

}  // namespace istar::coordinator

#endif  // ISTAR_COORDINATOR_COORDINATOR_H_
