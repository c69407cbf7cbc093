// File: cli/commands.h
// -----------------------------------------------------------------------------
// The subcommands of the `istar` binary. Each Add*Command registers its subcommand, options and
// help text on `app` and returns a function that runs it once CLI11 has parsed the command line.
// This module is LibTorch-free (STYLE.md §1): LibTorch work goes through torch-free facades such
// as regularizers/measure.h.
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

// Prints "istar <command>: <status message>" to stderr and returns the exit code for `status`:
// 2 for InvalidArgument, NotFound, OutOfRange and FailedPrecondition (the input must change),
// 1 otherwise.
int ReportError(const char* command, const absl::Status& status);

}  // namespace istar::cli

#endif  // ISTAR_CLI_COMMANDS_H_
