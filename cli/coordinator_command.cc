// `istar coordinator`: serves the coordinator's API over one results database until SIGTERM or
// SIGINT, then drains in-flight calls and exits 0 (docs/coordinator.md).
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/coordinator_flags.h"
#include "cli/stop_signals.h"
#include "coordinator/coordinator.h"

namespace istar::cli {
namespace {

struct CoordinatorFlags {
  std::string db_path;
  std::string listen = "127.0.0.1:0";
  bool allow_remote = false;
  bool insecure_plaintext = false;
  std::string token_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  double lease_ttl_seconds = 30;
  int64_t max_attempts = 3;
  int64_t quarantine_after = 3;
  std::string address_file;
  double drain_seconds = 10;
  double hang_timeout_seconds = 900;
};

// Writes `address` to `path` (mode 0600: on a shared filesystem only this user's jobs need it)
// through a temporary file renamed into place, so a reader polling for the file never sees it
// half written.
absl::Status WriteAddressFile(const std::string& path, const std::string& address) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << address << "\n";
    out.close();
    chmod(temporary.c_str(), 0600);
    if (!out) return absl::InternalError(absl::StrCat("--address-file: cannot write ", temporary));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("--address-file: cannot rename to ", path, ": ",
                                            error.message()));
  }
  return absl::OkStatus();
}

// SIGTERM and SIGINT are blocked before the server starts its threads and awaited on this one
// (Note [Stop signals] in cli/stop_signals.h): no handler runs in a gRPC thread, and the drain
// happens in ordinary code.
absl::Status Serve(const CoordinatorFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(std::string token, ReadToken(flags.token_file));
  StopSignals stop;
  const auto ttl = std::chrono::milliseconds(static_cast<int64_t>(flags.lease_ttl_seconds * 1000));
  ISTAR_ASSIGN_OR_RETURN(
      std::unique_ptr<coordinator::CoordinatorServer> server,
      coordinator::CoordinatorServer::Start(
          {.db_path = flags.db_path,
           .listen_address = flags.listen,
           .allow_remote = flags.allow_remote,
           .insecure_plaintext = flags.insecure_plaintext,
           .token = std::move(token),
           .tls = {.cert_file = flags.tls_cert,
                   .key_file = flags.tls_key,
                   .client_ca_file = flags.tls_client_ca},
           .lease = {.ttl = ttl,
                     .max_attempts = flags.max_attempts,
                     .quarantine_after = flags.quarantine_after},
           .hang_timeout =
               std::chrono::milliseconds(static_cast<int64_t>(flags.hang_timeout_seconds * 1000)),
           .expiry_interval = std::min<std::chrono::milliseconds>(
               std::chrono::seconds(1),
               std::max<std::chrono::milliseconds>(ttl / 4, std::chrono::milliseconds(10))),
           .log = [](const std::string& line) {
             std::cerr << "istar coordinator: " + line + "\n" << std::flush;
           }}));
  if (!flags.address_file.empty()) {
    ISTAR_RETURN_IF_ERROR(WriteAddressFile(flags.address_file, server->address()));
  }
  std::cerr << "istar coordinator: listening on " << server->address() << " (database "
            << flags.db_path << ", lease " << flags.lease_ttl_seconds << " s)" << std::endl;
  const std::string_view stopped_by = stop.Wait();
  std::cerr << "istar coordinator: " << stopped_by << ", draining calls for up to "
            << flags.drain_seconds << " s" << std::endl;
  server->Shutdown(std::chrono::milliseconds(static_cast<int64_t>(flags.drain_seconds * 1000)));
  std::cerr << "istar coordinator: stopped" << std::endl;
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddCoordinatorCommand(CLI::App& app) {
  auto flags = std::make_shared<CoordinatorFlags>();
  CLI::App* cmd = app.add_subcommand(
      "coordinator",
      "Serve the coordinator: sweeps, the trial queue and leases for worker groups, over one "
      "results database it alone writes (docs/coordinator.md). Stops cleanly on SIGTERM/SIGINT.");
  cmd->add_option("--db", flags->db_path, "Results database (created if missing)")->required();
  cmd->add_option("--listen", flags->listen,
                  "host:port to listen on; port 0 picks a free one (see --address-file)")
      ->default_val("127.0.0.1:0");
  cmd->add_flag("--allow-remote", flags->allow_remote,
                "Allow a non-loopback --listen address (with TLS, or --insecure-plaintext)");
  cmd->add_flag("--insecure-plaintext", flags->insecure_plaintext,
                "Serve a non-loopback address without TLS: the token crosses the network in "
                "clear (only on a network you trust)");
  cmd->add_option("--token-file", flags->token_file,
                  absl::StrCat("File holding the bearer token clients must send (default: $",
                               kTokenVariable, "); never pass a token on the command line"));
  cmd->add_option("--tls-cert", flags->tls_cert, "Server certificate chain (PEM): enables TLS");
  cmd->add_option("--tls-key", flags->tls_key, "Server private key (PEM)");
  cmd->add_option("--tls-client-ca", flags->tls_client_ca,
                  "CA (PEM) that client certificates must be signed by: mutual TLS");
  cmd->add_option("--lease-ttl", flags->lease_ttl_seconds,
                  "Seconds a lease lasts without a heartbeat")
      ->default_val(30)
      ->check(CLI::Range(0.01, 86400.0));
  cmd->add_option("--max-attempts", flags->max_attempts,
                  "Attempts a trial may start before it fails for good")
      ->default_val(3)
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--quarantine-after", flags->quarantine_after,
                  "Infrastructure failures in a row after which a worker is refused leases "
                  "(0: never)")
      ->default_val(3)
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  cmd->add_option("--hang-timeout", flags->hang_timeout_seconds,
                  "Seconds a lease's heartbeats may report no progress before it is failed as "
                  "hung, retryable (0: never; above the workers' own --hang-timeout)")
      ->default_val(900)
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--address-file", flags->address_file,
                  "Write the address it listens on (host:port) to this file once ready");
  cmd->add_option("--drain", flags->drain_seconds,
                  "Seconds in-flight calls may take to finish after SIGTERM")
      ->default_val(10)
      ->check(CLI::Range(0.0, 3600.0));
  return [flags]() -> int {
    const absl::Status status = Serve(*flags);
    return status.ok() ? 0 : ReportError("coordinator", status);
  };
}

}  // namespace istar::cli
