// `istar sweep ACTION`: sweep files (docs/sweep-format.md): `expand` here; submit, status,
// cancel and watch, which talk to a coordinator, in sweep_remote.cc.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/sweep_actions.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {

struct ExpandFlags {
  std::string file;
  bool json = false;
  int64_t limit = -1;  // -1: every trial
};

constexpr int kTableColumns = 10;
constexpr const char* kHeaders[kTableColumns] = {"id",   "model", "task",  "regularizer", "lambda",
                                                 "zeta", "lr",    "batch", "epochs",      "seed"};
constexpr int kFirstNumericColumn = 4;  // numbers are right-aligned

std::string Number(double value) { return absl::StrFormat("%g", value); }

// A trial's table cells; "-" where its regularizer has no such setting.
std::vector<std::string> Row(const sweeps::TrialSpec& trial) {
  const bool has_lambda = trial.regularizer != sweeps::Regularizer::kBaseline;
  const bool has_zeta = trial.regularizer == sweeps::Regularizer::kIStar;
  return {trial.id.substr(0, 12),
          trial.model,
          trial.task,
          std::string(sweeps::RegularizerName(trial.regularizer)),
          has_lambda ? Number(trial.lambda) : "-",
          has_zeta ? Number(trial.zeta) : "-",
          Number(trial.learning_rate),
          absl::StrCat(trial.batch_size),
          absl::StrCat(trial.epochs),
          absl::StrCat(trial.seed)};
}

void PrintTable(const std::vector<sweeps::TrialSpec>& trials, size_t shown) {
  std::vector<std::vector<std::string>> rows = {{std::begin(kHeaders), std::end(kHeaders)}};
  for (size_t i = 0; i < shown; ++i) rows.push_back(Row(trials[i]));
  size_t widths[kTableColumns] = {};
  for (const auto& row : rows) {
    for (int c = 0; c < kTableColumns; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (int c = 0; c < kTableColumns; ++c) {
      const std::string padding(widths[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += c >= kFirstNumericColumn ? padding + row[c] : row[c] + padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
  }
}

// "N trials (B baseline, C cosreg, I istar)".
std::string CountLine(const std::vector<sweeps::TrialSpec>& trials) {
  int64_t counts[3] = {0, 0, 0};
  for (const sweeps::TrialSpec& trial : trials) ++counts[static_cast<int>(trial.regularizer)];
  return absl::StrCat(trials.size(), trials.size() == 1 ? " trial (" : " trials (",
                      counts[static_cast<int>(sweeps::Regularizer::kBaseline)], " baseline, ",
                      counts[static_cast<int>(sweeps::Regularizer::kCosReg)], " cosreg, ",
                      counts[static_cast<int>(sweeps::Regularizer::kIStar)], " istar)");
}

// An array of {"id": ..., "config": the canonical configuration}, the config exactly what the id
// hashes.
void PrintJson(const std::vector<sweeps::TrialSpec>& trials, size_t shown) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < shown; ++i) {
    out.push_back({{"id", trials[i].id},
                   {"config", nlohmann::ordered_json::parse(trials[i].canonical_json)}});
  }
  std::cout << out.dump(2) << "\n";
}

absl::Status RunExpand(const ExpandFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(const sweeps::SweepSpec sweep, sweeps::LoadSweepFile(flags.file));
  const size_t total = sweep.trials.size();
  const size_t shown = flags.limit < 0 ? total : std::min(total, static_cast<size_t>(flags.limit));
  if (flags.json) {
    PrintJson(sweep.trials, shown);
    return absl::OkStatus();
  }
  PrintTable(sweep.trials, shown);
  std::cout << CountLine(sweep.trials)
            << (shown < total ? absl::StrCat("; showing the first ", shown) : "") << "\n";
  return absl::OkStatus();
}

SweepAction AddExpand(CLI::App& sweep) {
  auto flags = std::make_shared<ExpandFlags>();
  CLI::App* cmd = sweep.add_subcommand(
      "expand",
      "Validate a sweep file and print its trials in expansion order: short id (the first 12 of "
      "64 hex digits), model, task, regularizer, lambda, zeta, learning rate, batch size, epochs "
      "and seed, then the count by regularizer.");
  cmd->add_option("FILE", flags->file, "Sweep file (YAML, docs/sweep-format.md)")->required();
  cmd->add_flag("--json", flags->json,
                "Print a JSON array of {id, config} objects, config being the canonical "
                "configuration that the id hashes");
  cmd->add_option("--limit", flags->limit, "Print only the first N trials (the count is of all)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  return {cmd, [flags] {
            const absl::Status status = RunExpand(*flags);
            return status.ok() ? 0 : ReportError("sweep expand", status);
          }};
}

}  // namespace

CommandRunner AddSweepCommand(CLI::App& app) {
  CLI::App* sweep = app.add_subcommand(
      "sweep",
      "Work with sweeps: `expand FILE` lists a sweep file's trials; `submit FILE`, `status`, "
      "`cancel` and `watch` work with a coordinator (docs/coordinator.md).");
  const std::vector<SweepAction> actions = {
      AddExpand(*sweep),
#ifdef ISTAR_WITH_COORDINATOR
      AddSweepSubmit(*sweep), AddSweepStatus(*sweep), AddSweepCancel(*sweep),
      AddSweepWatch(*sweep),
#endif
  };
  return [sweep, actions] {
    for (const SweepAction& action : actions) {
      if (action.command->parsed()) return action.run();
    }
    std::cerr << sweep->help();  // `istar sweep` alone: say what it can do
    return 2;
  };
}

}  // namespace istar::cli
