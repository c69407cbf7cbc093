// `istar train CONFIG.yaml`: fine-tunes the one trial a sweep file describes, in this process.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trainer/trainer.h"

namespace istar::cli {
namespace {

struct TrainFlags {
  std::string config;
  std::vector<std::string> sets;
  std::string db_path = "results.db";
  std::string checkpoint_dir = "checkpoints";
  bool no_progress = false;
};

// A one-line progress bar, redrawn in place on a terminal.
void DrawBar(const trainer::Progress& p) {
  constexpr int kWidth = 30;
  const double done = p.total_steps > 0 ? static_cast<double>(p.step) / p.total_steps : 1.0;
  const int filled = static_cast<int>(done * kWidth);
  const auto eta = static_cast<long long>(p.eta_seconds);
  std::fprintf(stderr, "\r[%s%s] %lld/%lld loss %.4f %.0f ex/s ETA %lld:%02lld ",
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               static_cast<long long>(p.step), static_cast<long long>(p.total_steps), p.loss,
               p.examples_per_second, eta / 60, eta % 60);
  if (p.step == p.total_steps) std::fprintf(stderr, "\n");
}

// A plain line every 50 steps, for logs.
void PrintLine(const trainer::Progress& p) {
  if (p.step % 50 != 0 && p.step != p.total_steps) return;
  std::fprintf(stderr, "step %lld/%lld epoch %lld loss %.4f %.0f examples/s ETA %.0fs\n",
               static_cast<long long>(p.step), static_cast<long long>(p.total_steps),
               static_cast<long long>(p.epoch + 1), p.loss, p.examples_per_second, p.eta_seconds);
}

absl::StatusOr<int> Run(const TrainFlags& flags) {
  absl::StatusOr<sweeps::TrialSpec> trial_or = trainer::LoadTrialConfig(flags.config, flags.sets);
  if (!trial_or.ok()) return trial_or.status();
  const sweeps::TrialSpec& trial = *trial_or;
  trainer::RunOptions options{.db_path = flags.db_path,
                              .checkpoint_dir = flags.checkpoint_dir,
                              .progress = !flags.no_progress};
  options.on_progress = isatty(STDERR_FILENO) ? DrawBar : PrintLine;
  absl::StatusOr<trainer::TrialResult> result = trainer::RunTrial(trial, options);
  if (!result.ok()) return result.status();
  std::cout << "trial " << trial.id.substr(0, 12) << " " << result->status << " after "
            << result->steps << " steps";
  for (const auto& [name, value] : result->final_metrics) std::cout << ", " << name << " " << value;
  std::cout << "\n";
  if (result->status == "failed") {
    std::cerr << "istar train: " << result->error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

CommandRunner AddTrainCommand(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Fine-tune the one trial of a sweep file in this process, writing its metrics, isotropy and "
      "final results to the results database (docs/training.md)");
  cmd->add_option("config", flags->config, "Sweep file that expands to exactly one trial")
      ->required();
  cmd->add_option("--set", flags->sets,
                  "Override a setting of the file: key.path=value, e.g. grid.seed=3 (repeatable)");
  cmd->add_option("--db", flags->db_path, "Results database (created if missing)")
      ->default_val("results.db");
  cmd->add_option("--checkpoints", flags->checkpoint_dir,
                  "Folder for epoch checkpoints (<dir>/<trial id>/epoch-<k>); resumes from them")
      ->default_val("checkpoints");
  cmd->add_flag("--no-progress", flags->no_progress, "Print no progress on stderr");
  return [flags]() -> int {
    absl::StatusOr<int> code = Run(*flags);
    if (!code.ok()) return ReportError("train", code.status());
    return *code;
  };
}

}  // namespace istar::cli
