// `istar train CONFIG.yaml`: fine-tunes the one trial a sweep file describes, in this process, or
// started by mpirun as one rank of a worker group that trains the trial together.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "comm/communicator.h"
#include "trainer/device.h"
#include "trainer/trainer.h"

namespace istar::cli {
namespace {

struct TrainFlags {
  std::string config;
  std::vector<std::string> sets;
  std::string db_path = "results.db";
  std::string checkpoint_dir = "checkpoints";
  bool no_progress = false;
  bool float64 = false;
  std::string device = "auto";
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

// Trains the trial as rank `group->rank()` of a worker group (or alone when `group` is null).
absl::StatusOr<int> Train(const TrainFlags& flags, const sweeps::TrialSpec& trial,
                          comm::Communicator* group) {
  const bool leader = group == nullptr || group->rank() == 0;
  const int ranks = group == nullptr ? 1 : group->size();
  if (leader && trial.training.ranks_per_trial != ranks) {
    // The launcher decides; the setting is the coordinator's (it sizes worker groups).
    std::cerr << "istar train: note: training.ranks_per_trial is " << trial.training.ranks_per_trial
              << " but this job has " << ranks << " rank(s): mpirun -np decides, and the trial "
              << "is the same (ranks_per_trial is not part of its id)\n";
  }
  comm::LocalCommunicator alone;
  absl::StatusOr<trainer::GroupDevice> device =
      trainer::SetUpGroupDevice(group != nullptr ? *group : alone, flags.device);
  if (!device.ok()) return device.status();
  trainer::RunOptions options{.db_path = flags.db_path,
                              .checkpoint_dir = flags.checkpoint_dir,
                              .progress = !flags.no_progress && leader,
                              .float64 = flags.float64,
                              .device = device->device,
                              .group = group,
                              .tensor_group = device->tensors.get()};
  options.on_progress = isatty(STDERR_FILENO) ? DrawBar : PrintLine;
  absl::StatusOr<trainer::TrialResult> result = trainer::RunTrial(trial, options);
  if (!result.ok()) return result.status();
  if (!leader) return result->status == trainer::TrialOutcome::kFailed ? 1 : 0;
  std::cout << "trial " << trial.id.substr(0, 12) << " "
            << trainer::TrialOutcomeName(result->status) << " after " << result->steps << " steps";
  if (group != nullptr) std::cout << " on " << group->size() << " ranks";
  for (const auto& [name, value] : result->final_metrics) std::cout << ", " << name << " " << value;
  // Further evaluation splits (MNLI's "validation_mismatched"), named.
  for (const auto& [split, scores] : result->split_metrics) {
    if (split == "validation") continue;
    for (const auto& [name, value] : scores)
      std::cout << ", " << split << " " << name << " " << value;
  }
  std::cout << "\n";
  if (result->status == trainer::TrialOutcome::kFailed) {
    std::cerr << "istar train: " << result->error << "\n";
    return 1;
  }
  return 0;
}

// Note [istar train under mpirun]
// Started by mpirun (MpiSession::InMpiJob), every rank reads the same config and calls RunTrial
// with the job's communicator; rank 0 alone prints. An error every rank shares (a bad config, or
// one RunTrial agreed on) ends each rank normally with the same exit code. An error of one rank
// alone may leave the others waiting in a collective, so that rank ends the whole job
// (MpiSession::Abort) rather than let it hang.
int RunInMpiJob(const TrainFlags& flags) {
  int argc = 0;
  char** argv = nullptr;
  absl::StatusOr<std::unique_ptr<comm::MpiSession>> session =
      comm::MpiSession::Start(&argc, &argv);
  if (!session.ok()) return ReportError("train", session.status());
  absl::StatusOr<std::unique_ptr<comm::Communicator>> group =
      comm::CreateMpiCommunicator(**session);
  if (!group.ok()) return ReportError("train", group.status());
  const int rank = (*group)->rank();
  absl::StatusOr<sweeps::TrialSpec> trial = trainer::LoadTrialConfig(flags.config, flags.sets);
  const absl::StatusOr<int> code =
      trial.ok() ? Train(flags, *trial, group->get()) : absl::StatusOr<int>(trial.status());
  if (code.ok()) return *code;
  if ((*group)->size() > 1 && trial.ok() && !comm::IsAgreed(code.status())) {
    std::cerr << "istar train: rank " << rank << ": " << code.status().message()
              << "\nistar train: ending every rank of the job\n";
    (*session)->Abort(1);
  }
  // Every rank has the same error: rank 0 says it.
  return rank == 0 ? ReportError("train", code.status()) : ExitCode(code.status());
}

absl::StatusOr<int> Run(const TrainFlags& flags) {
  absl::StatusOr<sweeps::TrialSpec> trial = trainer::LoadTrialConfig(flags.config, flags.sets);
  if (!trial.ok()) return trial.status();
  return Train(flags, *trial, nullptr);
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
  cmd->add_flag("--float64", flags->float64,
                "Train in float64 instead of float32 (slower; for comparing runs to 1e-10, e.g. "
                "one process against mpirun -np R)");
  cmd->add_option("--device", flags->device,
                  "cpu, cuda, cuda:N or auto (cuda where LibTorch sees a GPU, else cpu). Under "
                  "mpirun or srun each rank takes its local rank's GPU; a CUDA build of istar, "
                  "docs/building.md; training.precision bf16 needs cuda")
      ->default_val("auto");
  cmd->footer(
      "Worker groups: `mpirun -np R istar train CONFIG.yaml` trains the trial data parallel on R "
      "ranks (each batch split across them, IsoScore* and CosReg over the whole batch); rank 0 "
      "writes the database and the checkpoints, which must be a folder every rank sees.");
  return [flags]() -> int {
    if (comm::MpiSession::InMpiJob()) return RunInMpiJob(*flags);
    absl::StatusOr<int> code = Run(*flags);
    if (!code.ok()) return ReportError("train", code.status());
    return *code;
  };
}

}  // namespace istar::cli
