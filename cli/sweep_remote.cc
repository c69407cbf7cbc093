// `istar sweep submit|status|cancel|watch`: a sweep on a coordinator (docs/cli.md).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/coordinator_flags.h"
#include "cli/sweep_actions.h"
#include "cli/table.h"
#include "db/records.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {

struct RemoteFlags {
  ConnectionFlags connection;
  std::string target;  // a sweep file (submit) or a sweep name / id prefix
  bool trials = false;
};

constexpr db::TrialStatus kStatusOrder[] = {db::TrialStatus::kDone,    db::TrialStatus::kFailed,
                                            db::TrialStatus::kCancelled, db::TrialStatus::kLeased,
                                            db::TrialStatus::kRunning, db::TrialStatus::kPending};

// "[##########..........] 5/12 finished: 4 done, 1 failed, 2 leased, 5 pending".
std::string ProgressLine(const db::SweepProgress& progress) {
  constexpr int kWidth = 30;
  const int64_t finished = db::FinishedTrials(progress);
  const int filled = progress.trial_count > 0
                         ? static_cast<int>(kWidth * finished / progress.trial_count)
                         : kWidth;
  std::string line = absl::StrCat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'),
                                  "] ", finished, "/", progress.trial_count, " finished:");
  const char* separator = " ";
  for (db::TrialStatus s : kStatusOrder) {
    const auto it = progress.by_status.find(s);
    if (it == progress.by_status.end()) continue;
    absl::StrAppend(&line, separator, it->second, " ", std::string(db::TrialStatusName(s)));
    separator = ", ";
  }
  return line;
}

absl::Status RunSubmit(const RemoteFlags& flags) {
  // Validate locally first: errors then name the file and line without a round trip.
  ISTAR_ASSIGN_OR_RETURN(const sweeps::SweepSpec sweep, sweeps::LoadSweepFile(flags.target));
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  ISTAR_ASSIGN_OR_RETURN(const coordinator::SubmittedSweep submitted,
                         client->SubmitSweep(sweep.yaml, flags.target));
  std::cout << "sweep " << sweep.name << " " << submitted.sweep_id.substr(0, 12) << ": "
            << submitted.trial_count << " trials, " << submitted.new_trials << " new, "
            << submitted.trial_count - submitted.new_trials << " already stored\n";
  return absl::OkStatus();
}

absl::Status RunStatus(const RemoteFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  ISTAR_ASSIGN_OR_RETURN(const db::SweepProgress progress, client->GetSweep(flags.target));
  std::cout << "sweep " << progress.name << " " << progress.id.substr(0, 12) << "\n"
            << ProgressLine(progress) << "\n";
  if (!flags.trials) return absl::OkStatus();
  ISTAR_ASSIGN_OR_RETURN(const std::vector<db::TrialRecord> trials,
                         client->ListTrials(flags.target));
  Table table{.columns = TrialColumns()};
  for (const char* column : {"status", "attempts", "worker", "error"}) {
    table.columns.push_back(column);
  }
  for (const db::TrialRecord& t : trials) {
    std::vector<Cell> row = TrialRowCells(TrialCellsOf(t), /*short_id=*/true);
    row.push_back(Text(std::string(db::TrialStatusName(t.status))));
    row.push_back(Number(t.attempts));
    row.push_back(Text(t.worker_id.value_or("")));
    row.push_back(Text(t.error.value_or("")));
    table.rows.push_back(std::move(row));
  }
  WriteTable(table, TableFormat::kText, std::cout);
  return absl::OkStatus();
}

absl::Status RunCancel(const RemoteFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  ISTAR_ASSIGN_OR_RETURN(const int64_t cancelled, client->CancelSweep(flags.target));
  std::cout << "cancelled " << cancelled << (cancelled == 1 ? " trial" : " trials")
            << " of sweep " << flags.target << "\n";
  return absl::OkStatus();
}

absl::Status RunWatch(const RemoteFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(auto client, ConnectFromFlags(flags.connection));
  std::map<db::TrialStatus, int64_t> final_counts;
  std::map<std::string, db::TrialStatus> states;
  ISTAR_RETURN_IF_ERROR(client->WatchSweep(flags.target, [&](const coordinator::TrialEvent& e) {
    states[e.trial_id] = e.status;
    std::string line = absl::StrCat("trial ", e.trial_id.substr(0, 12), " ",
                                    std::string(db::TrialStatusName(e.status)));
    if (e.attempts > 0) absl::StrAppend(&line, " (attempt ", e.attempts);
    if (e.attempts > 0 && !e.worker_id.empty()) absl::StrAppend(&line, ", worker ", e.worker_id);
    if (e.attempts > 0) absl::StrAppend(&line, ")");
    if (!e.error.empty() && e.status != db::TrialStatus::kDone) {
      absl::StrAppend(&line, ": ", e.error);
    }
    absl::StrAppend(&line, "  [", e.done, "/", e.trial_count, " finished]");
    std::cout << line << std::endl;
  }));
  for (const auto& [id, status] : states) ++final_counts[status];
  std::cout << "sweep " << flags.target << " finished:";
  const char* separator = " ";
  for (const auto& [status, count] : final_counts) {
    std::cout << separator << count << " " << db::TrialStatusName(status);
    separator = ", ";
  }
  std::cout << "\n";
  return absl::OkStatus();
}

SweepAction AddRemote(CLI::App& sweep, const char* name, const char* help, const char* target_help,
                      absl::Status (*run)(const RemoteFlags&), bool with_trials = false) {
  auto flags = std::make_shared<RemoteFlags>();
  CLI::App* cmd = sweep.add_subcommand(name, help);
  cmd->add_option(name == std::string("submit") ? "FILE" : "SWEEP", flags->target, target_help)
      ->required();
  AddConnectionFlags(*cmd, flags->connection);
  if (with_trials) cmd->add_flag("--trials", flags->trials, "Also list every trial");
  const std::string command = absl::StrCat("sweep ", name);
  return {cmd, [flags, run, command] {
            const absl::Status status = run(*flags);
            return status.ok() ? 0 : ReportError(command.c_str(), status);
          }};
}

}  // namespace

SweepAction AddSweepSubmit(CLI::App& sweep) {
  return AddRemote(sweep, "submit",
                   "Submit a sweep file to a coordinator: its new trials join the queue; trials "
                   "already stored keep their state (nothing finished runs again).",
                   "Sweep file (YAML, docs/sweep-format.md)", RunSubmit);
}

SweepAction AddSweepStatus(CLI::App& sweep) {
  return AddRemote(sweep, "status", "Show how far a sweep has come: trials by state.",
                   "Sweep name, id or id prefix", RunStatus, /*with_trials=*/true);
}

SweepAction AddSweepCancel(CLI::App& sweep) {
  return AddRemote(sweep, "cancel",
                   "Cancel a sweep's unfinished trials; worker groups running one stop at their "
                   "next heartbeat.",
                   "Sweep name, id or id prefix", RunCancel);
}

SweepAction AddSweepWatch(CLI::App& sweep) {
  return AddRemote(sweep, "watch",
                   "Print every change of a sweep's trials as it happens, until all have finished.",
                   "Sweep name, id or id prefix", RunWatch);
}

}  // namespace istar::cli
