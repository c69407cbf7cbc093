// The actions under `istar sweep`: expand (sweep_command.cc) and the coordinator's submit,
// status, cancel and watch (sweep_remote.cc).
#ifndef ISTAR_CLI_SWEEP_ACTIONS_H_
#define ISTAR_CLI_SWEEP_ACTIONS_H_

#include "cli/commands.h"

namespace istar::cli {

// One action under `istar sweep`: its CLI11 subcommand and what runs it once parsed.
struct SweepAction {
  CLI::App* command;
  CommandRunner run;
};

SweepAction AddSweepSubmit(CLI::App& sweep);
SweepAction AddSweepStatus(CLI::App& sweep);
SweepAction AddSweepCancel(CLI::App& sweep);
SweepAction AddSweepWatch(CLI::App& sweep);

}  // namespace istar::cli

#endif  // ISTAR_CLI_SWEEP_ACTIONS_H_
