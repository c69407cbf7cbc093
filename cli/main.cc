// The `istar` binary: one program, one subcommand per task (docs/cli.md).
#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "base/version.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "istar: a distributed experiment runner for isotropy research on transformer language "
      "models.\nRun `istar COMMAND --help` for the options of a command.",
      "istar"};
  app.set_version_flag("--version", std::string("istar ") + istar::kVersion);
  app.require_subcommand(1);

  const std::map<std::string, istar::cli::CommandRunner> commands = {
    {"generate", istar::cli::AddGenerateCommand(app)},
    {"sweep", istar::cli::AddSweepCommand(app)},
    {"trials", istar::cli::AddTrialsCommand(app)},
    {"compare", istar::cli::AddCompareCommand(app)},
    {"export", istar::cli::AddExportCommand(app)},
    {"report", istar::cli::AddReportCommand(app)},
    {"dashboard", istar::cli::AddDashboardCommand(app)},
    {"sql", istar::cli::AddSqlCommand(app)},
#ifdef ISTAR_WITH_TRAINER
    {"isoscore", istar::cli::AddIsoScoreCommand(app)},
    {"model", istar::cli::AddModelCommand(app)},
    {"embed", istar::cli::AddEmbedCommand(app)},
    {"train", istar::cli::AddTrainCommand(app)},
    {"demo-data", istar::cli::AddDemoDataCommand(app)},
#endif
#ifdef ISTAR_WITH_COORDINATOR
    {"coordinator", istar::cli::AddCoordinatorCommand(app)},
    {"workers", istar::cli::AddWorkersCommand(app)},
#endif
#if defined(ISTAR_WITH_COORDINATOR) && defined(ISTAR_WITH_TRAINER)
    {"worker", istar::cli::AddWorkerCommand(app)},
    {"run", istar::cli::AddRunCommand(app)},
#endif
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the parse error
    return code == 0 ? 0 : 2;
  }
  for (const auto& [name, run] : commands) {
    if (app.got_subcommand(name)) return run();
  }
  std::cerr << app.help();
  return 2;
}
