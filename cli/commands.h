// File: cli/commands.h
// -----------------------------------------------------------------------------
// The subcommands of the `istar` binary. Each Add*Command registers its subcommand, options and
// help text on `app` and returns a function that runs it once CLI11 has parsed the command line.
// This module is LibTorch-free (docs/architecture.md, "Rules"): LibTorch work goes through
// torch-free facades such as regularizers/measure.h.
//
// Exit codes, for every command: 0 success, 1 failure of the run, 2 bad input (a malformed file,
// a bad flag value). Errors go to stderr as "istar <command>: <message>".
//
// Example (cli/main.cc):
//
//   CLI::App app{"istar"};
//   std::function<int()> run = AddIsoScoreCommand(app);
//   CLI11_PARSE(app, argc, argv);
//   return run();
//
// Thread safety: none needed; commands run on the main thread.
#ifndef ISTAR_CLI_COMMANDS_H_
#define ISTAR_CLI_COMMANDS_H_

#include <functional>

#include "absl/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace istar::cli {

// A parsed subcommand, ready to run; returns the process exit code.
using CommandRunner = std::function<int()>;

// `istar isoscore FILE`: isotropy of a point cloud file (docs/cli.md).
CommandRunner AddIsoScoreCommand(CLI::App& app);

// `istar generate FILE`: writes a synthetic point cloud with a known isotropy (docs/cli.md).
CommandRunner AddGenerateCommand(CLI::App& app);

// `istar sweep expand FILE` (and, with the coordinator, submit/status/cancel/watch): sweeps.
CommandRunner AddSweepCommand(CLI::App& app);

// The read side of the results database (docs/database.md), each opening it read-only:
// `istar trials`: trials with their status and final metrics.
CommandRunner AddTrialsCommand(CLI::App& app);
// `istar compare`: the model x task by regularizer table, seeds aggregated, vs baseline.
CommandRunner AddCompareCommand(CLI::App& app);
// `istar export`: a trial's metric and isotropy trajectories as CSV.
CommandRunner AddExportCommand(CLI::App& app);
// `istar report`: the database as one self-contained HTML page of tables and charts.
CommandRunner AddReportCommand(CLI::App& app);
// `istar dashboard`: the report's views and the queue, served live over HTTP while a sweep runs.
CommandRunner AddDashboardCommand(CLI::App& app);
// `istar sql`: any read-only SQL query.
CommandRunner AddSqlCommand(CLI::App& app);

// `istar model inspect DIR`: a checkpoint folder's architecture, parameters and load report.
CommandRunner AddModelCommand(CLI::App& app);
// `istar embed`: hidden states of chosen layers of a checkpoint over a text file, to .npy or
// .safetensors (for `istar isoscore`).
CommandRunner AddEmbedCommand(CLI::App& app);

// `istar train CONFIG.yaml`: one trial in this process, rows into a local SQLite file.
CommandRunner AddTrainCommand(CLI::App& app);

// `istar coordinator`: serves the coordinator's API over a results database (docs/coordinator.md).
CommandRunner AddCoordinatorCommand(CLI::App& app);

// `istar worker`: a worker group's rank: lease, train, report (docs/worker.md).
CommandRunner AddWorkerCommand(CLI::App& app);

// `istar workers list|release WORKER`: a coordinator's worker groups and their quarantine.
CommandRunner AddWorkersCommand(CLI::App& app);

// `istar run FILE`: a coordinator, W worker groups and the comparison table, on this machine.
CommandRunner AddRunCommand(CLI::App& app);

// `istar demo-data DIR`: synthetic SST-2 and SQuAD data and a tiny random BERT folder.
CommandRunner AddDemoDataCommand(CLI::App& app);

// The exit code for an error: 2 for InvalidArgument, NotFound, OutOfRange, FailedPrecondition,
// Unauthenticated and PermissionDenied (the input must change), 1 otherwise.
int ExitCode(const absl::Status& status);

// Prints "istar <command>: <status message>" to stderr and returns ExitCode(status).
int ReportError(const char* command, const absl::Status& status);

}  // namespace istar::cli

#endif  // ISTAR_CLI_COMMANDS_H_
