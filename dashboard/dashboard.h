// File: dashboard/dashboard.h
// -----------------------------------------------------------------------------
// `istar dashboard`: the views of `istar report` served live over HTTP (docs/dashboard.md). The
// page is the report's page with two more parts in its data: the queue (each sweep's trials by
// status, the worker groups and their quarantine) and how to ask for newer data. The page asks
// `GET /api/data?after=VERSION`; the server holds the question until the database changes (or
// `max_wait` passes: 204 No Content), so a row written by the coordinator reaches the page about
// `check_interval` later without the page polling the whole data set.
//
// The database is opened read-only (SQLITE_OPEN_READONLY) and only read in short snapshots; in
// WAL mode readers never block the writer (db/store.h). The data is built at most once per
// change of the file (SQLite's data_version) however many pages are open.
//
// A loopback address needs nothing more; any other address needs a token (every request sends
// it: `Authorization: Bearer TOKEN`, or `?token=TOKEN` in the page's URL) and TLS, as the
// coordinator does (coordinator/coordinator.h), or `insecure_plaintext` on a trusted network.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<dashboard::DashboardServer> server,
//                          dashboard::DashboardServer::Start({.db_path = "results.db"}));
//   std::cout << "open " << server->url() << "\n";
//   ... wait for a signal ...
//   server->Shutdown();
//
// Thread safety: Start, port and url may be called from any thread; Shutdown from one.
#ifndef ISTAR_DASHBOARD_DASHBOARD_H_
#define ISTAR_DASHBOARD_DASHBOARD_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "report/report.h"

namespace istar::dashboard {

struct DashboardOptions {
  // The results database; it must exist (it is never created nor migrated). Required.
  std::string db_path;
  // host:port to listen on; port 0 picks a free one (see DashboardServer::port()). A host that
  // is not loopback (127.*, localhost, ::1) needs allow_remote, a token and TLS (or
  // insecure_plaintext).
  std::string listen_address = "127.0.0.1:8080";
  bool allow_remote = false;
  bool insecure_plaintext = false;
  // The token every request must carry; empty: none asked (loopback only). At least 16
  // characters when given.
  std::string token;
  // TLS: PEM files of the server's certificate chain and private key; both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Which trials, which split, the title: as `istar report` (the live fields are the server's).
  report::ReportOptions report;
  // The page asks for newer data this long after each answer.
  std::chrono::milliseconds refresh{2000};
  // The longest a question for newer data is held while nothing changes.
  std::chrono::milliseconds max_wait{20000};
  // How often a held question looks at the file's data_version.
  std::chrono::milliseconds check_interval{200};
  // One line per request answered and per error, for whoever runs the dashboard (never the
  // token); called from the server's threads. Null: not told.
  std::function<void(const std::string&)> log;
};

// A running dashboard. Start() returns once it listens; the destructor shuts it down.
class DashboardServer {
 public:
  // Validates the options, opens the database read-only, builds the first data (so a broken
  // database fails here, not in the browser) and starts serving. InvalidArgument for bad options
  // (no db_path, a short token, a non-loopback address without allow_remote, a token, or TLS,
  // TLS files half given or unreadable, refresh or waits not positive); the errors of
  // db::Store::Open (NotFound for a missing file, FailedPrecondition for an old schema) and of
  // report::ReportData; Unavailable if the address cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(
      DashboardOptions options);

  virtual ~DashboardServer() = default;

  // The port it listens on (the chosen one when the address asked for port 0).
  virtual int port() const = 0;
  // The page's address, e.g. "http://127.0.0.1:8080/" (https with TLS; a wildcard host is given
  // as 127.0.0.1). Without the token: give it to the browser yourself (docs/dashboard.md).
  virtual std::string url() const = 0;
  // Stops listening, answers held questions at once and waits for the server's threads.
  // Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace istar::dashboard

#endif  // ISTAR_DASHBOARD_DASHBOARD_H_
