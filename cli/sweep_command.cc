// `istar sweep ACTION`: sweep files (docs/sweep-format.md): `expand` here; submit, status,
// cancel and watch, which talk to a coordinator, in sweep_remote.cc.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/sweep_actions.h"
#include "cli/table.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {

struct ExpandFlags {
  std::string file;
  bool json = false;
  int64_t limit = -1;  // -1: every trial
};

void PrintTable(const std::vector<sweeps::TrialSpec>& trials, size_t shown) {
  Table table{.columns = TrialColumns()};
  for (size_t i = 0; i < shown; ++i) {
    table.rows.push_back(TrialRowCells(TrialCellsOf(trials[i]), /*short_id=*/true));
  }
  WriteTable(table, TableFormat::kText, std::cout);
}

// "N trials (B baseline, C cosreg, I istar)": the paper's three always, then any other
// regularizer the sweep has, in the catalogue's order.
std::string CountLine(const std::vector<sweeps::TrialSpec>& trials) {
  std::map<std::string, int64_t> counts;
  for (const sweeps::TrialSpec& trial : trials) ++counts[trial.regularizer];
  std::vector<std::string> parts;
  for (const catalog::RegularizerSpec& spec : catalog::Regularizers()) {
    const std::string name(spec.name);
    const bool paper = name == "baseline" || name == "cosreg" || name == "istar";
    if (paper || counts[name] > 0) parts.push_back(absl::StrCat(counts[name], " ", name));
  }
  return absl::StrCat(trials.size(), trials.size() == 1 ? " trial (" : " trials (",
                      absl::StrJoin(parts, ", "), ")");
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
