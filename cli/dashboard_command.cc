// `istar dashboard --db FILE --listen 127.0.0.1:8080`: the report's views, live
// (docs/dashboard.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/stop_signals.h"
#include "cli/token.h"
#include "dashboard/dashboard.h"

namespace istar::cli {
namespace {

struct DashboardFlags {
  dashboard::DashboardOptions options;
  std::string token_file;
  double refresh_seconds = 2;
  double max_wait_seconds = 20;
  bool quiet = false;
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// SIGTERM and SIGINT are blocked before the server starts its threads and awaited on this one
// (Note [Stop signals] in cli/stop_signals.h).
absl::Status Serve(DashboardFlags& flags) {
  dashboard::DashboardOptions& options = flags.options;
  // A token when one is given (a file, or $ISTAR_TOKEN): required off loopback (Start says so).
  const char* from_environment = std::getenv(kTokenVariable);
  if (!flags.token_file.empty() || (from_environment != nullptr && *from_environment != '\0')) {
    ISTAR_ASSIGN_OR_RETURN(options.token, ReadToken(flags.token_file));
  }
  options.refresh = Millis(flags.refresh_seconds);
  options.max_wait = Millis(flags.max_wait_seconds);
  if (!flags.quiet) {
    options.log = [](const std::string& line) {
      std::cerr << absl::StrCat("istar dashboard: ", line, "\n") << std::flush;
    };
  }
  StopSignals stop;
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<dashboard::DashboardServer> server,
                         dashboard::DashboardServer::Start(options));
  std::cout << "istar dashboard: serving " << options.db_path << " (read-only) at " << server->url()
            << (options.token.empty() ? "" : "  (add ?token=TOKEN: the token of --token-file)")
            << "\nistar dashboard: Ctrl-C stops it" << std::endl;
  stop.Wait();
  server->Shutdown();
  std::cerr << "istar dashboard: stopped" << std::endl;
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddDashboardCommand(CLI::App& app) {
  auto flags = std::make_shared<DashboardFlags>();
  CLI::App* cmd = app.add_subcommand(
      "dashboard",
      "Serve the report's views live over HTTP (docs/dashboard.md): the comparison table, the "
      "charts and the trials, refreshed as rows arrive, and the queue (each sweep's trials by "
      "status, the worker groups and their quarantine). Opens the database read-only: run it "
      "beside the coordinator while a sweep runs. Stops on SIGTERM/SIGINT.");
  cmd->add_option("--db", flags->options.db_path, "Results database (opened read-only)")
      ->required();
  cmd->add_option("--listen", flags->options.listen_address,
                  "host:port to serve on; port 0 picks a free one")
      ->capture_default_str();
  cmd->add_flag("--allow-remote", flags->options.allow_remote,
                "Allow a non-loopback --listen address (with a token, and TLS or "
                "--insecure-plaintext)");
  cmd->add_flag("--insecure-plaintext", flags->options.insecure_plaintext,
                "Serve a non-loopback address without TLS: the token crosses the network in "
                "clear (only on a network you trust)");
  cmd->add_option(
      "--token-file", flags->token_file,
      absl::StrCat("File holding the token browsers must send (default: $", kTokenVariable,
                   " if set; required off loopback); never pass a token on the "
                   "command line"));
  cmd->add_option("--tls-cert", flags->options.tls_cert_file,
                  "Server certificate chain (PEM): serve HTTPS");
  cmd->add_option("--tls-key", flags->options.tls_key_file, "Server private key (PEM)");
  AddReportContentFlags(*cmd, flags->options.report);
  cmd->add_option("--refresh", flags->refresh_seconds,
                  "Seconds a page waits after each answer before asking for newer data")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("--max-wait", flags->max_wait_seconds,
                  "Longest a page's question is held while nothing changes, in seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 300.0));
  cmd->add_flag("--quiet", flags->quiet, "Do not log each request on stderr");
  return [flags] {
    const absl::Status status = Serve(*flags);
    return status.ok() ? 0 : ReportError("dashboard", status);
  };
}

}  // namespace istar::cli
