// `istar workers list|release`: the worker groups a coordinator knows, and lifting a quarantine
// (docs/coordinator.md, "Quarantine").
#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/coordinator_flags.h"
#include "cli/table.h"
#include "db/records.h"

namespace istar::cli {
namespace {

struct WorkersFlags {
  ConnectionFlags connection;
  std::string worker_id;
  std::string format = "text";
};

std::string Utc(Timestamp time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromChrono(time), absl::UTCTimeZone());
}

absl::Status RunList(const WorkersFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::WorkerRecord> workers, client->ListWorkers());
  Table table{.columns = {"worker", "host", "last_seen_utc", "failures_in_a_row", "quarantined"}};
  for (const db::WorkerRecord& w : workers) {
    table.rows.push_back({Text(w.id), Text(w.host), Text(Utc(w.last_seen_at)),
                          Number(w.consecutive_failures), Text(w.quarantined ? "yes" : "no")});
  }
  WriteTable(table, ParseTableFormat(flags.format), std::cout);
  return absl::OkStatus();
}

absl::Status RunRelease(const WorkersFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  ISTAR_RETURN_IF_ERROR(client->ReleaseWorker(flags.worker_id));
  std::cout << "worker " << flags.worker_id << " released: it may lease trials again\n";
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddWorkersCommand(CLI::App& app) {
  auto flags = std::make_shared<WorkersFlags>();
  CLI::App* workers = app.add_subcommand(
      "workers",
      "The worker groups a coordinator knows: `list` them with their failures in a row and "
      "quarantine, `release WORKER` from a quarantine (docs/coordinator.md).");
  CLI::App* list = workers->add_subcommand("list", "List the worker groups");
  AddConnectionFlags(*list, flags->connection);
  AddFormatOption(*list, flags->format);
  CLI::App* release = workers->add_subcommand(
      "release", "Lift a worker group's quarantine and reset its failure count");
  AddConnectionFlags(*release, flags->connection);
  release->add_option("WORKER", flags->worker_id, "The worker group's id (istar workers list)")
      ->required();
  return [workers, list, release, flags] {
    if (list->parsed()) {
      const absl::Status status = RunList(*flags);
      return status.ok() ? 0 : ReportError("workers list", status);
    }
    if (release->parsed()) {
      const absl::Status status = RunRelease(*flags);
      return status.ok() ? 0 : ReportError("workers release", status);
    }
    std::cerr << workers->help();
    return 2;
  };
}

}  // namespace istar::cli
