// `istar run FILE --workers W --ranks R`: a whole sweep on this machine, one command: a
// coordinator on a free loopback port over a SQLite file, W worker groups of R MPI ranks each,
// a progress line until every trial has finished, then the comparison table (docs/cli.md).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/compare.h"
#include "coordinator/client.h"
#include "db/records.h"
#include "sweeps/sweep.h"
#include "trainer/device.h"

namespace istar::cli {
namespace {

namespace fs = std::filesystem;

struct RunFlags {
  std::string file;
  std::vector<std::string> sets;
  int workers = 2;
  int ranks = 0;  // 0: the file's training.ranks_per_trial
  std::string db_path = "results.db";
  std::string checkpoint_dir = "checkpoints";
  std::string log_dir = "istar-logs";
  double lease_ttl_seconds = 30;
  bool float64 = false;
  std::string device = "auto";
};

std::atomic<bool> g_interrupted{false};
extern "C" void Interrupt(int) { g_interrupted.store(true); }

std::string SelfPath() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("istar") : self.string();
}

// A fresh token: 32 random bytes as hex, in a file only this user can read.
absl::StatusOr<std::string> WriteToken(const fs::path& dir) {
  std::ifstream random("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    return absl::InternalError("cannot read /dev/urandom for a token");
  }
  std::string token;
  for (unsigned char b : bytes) absl::StrAppend(&token, absl::Hex(b, absl::kZeroPad2));
  const fs::path path = dir / "token";
  {
    std::ofstream out(path, std::ios::trunc);
    out << token << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  chmod(path.c_str(), 0600);
  return path.string();
}

// Waits for the coordinator to write its address file (or to die).
absl::StatusOr<std::string> AwaitAddress(const fs::path& address_file, ChildProcess& coordinator,
                                         const std::string& log) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    std::ifstream in(address_file);
    std::string address;
    if (in && std::getline(in, address) && !address.empty()) return address;
    if (coordinator.Poll().has_value()) {
      return absl::InternalError(
          absl::StrCat("the coordinator exited with code ", *coordinator.Poll(), "; see ", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("the coordinator did not start; see ", log));
}

std::string Count(const db::SweepProgress& progress, db::TrialStatus status) {
  const auto it = progress.by_status.find(status);
  return absl::StrCat(it == progress.by_status.end() ? 0 : it->second);
}

void ShowProgress(const db::SweepProgress& p, bool terminal, std::string& last) {
  const std::string line =
      absl::StrCat(db::FinishedTrials(p), "/", p.trial_count, " trials finished (",
                   Count(p, db::TrialStatus::kDone), " done, ", Count(p, db::TrialStatus::kFailed),
                   " failed), ", Count(p, db::TrialStatus::kLeased), " running, ",
                   Count(p, db::TrialStatus::kPending), " pending");
  if (line == last) return;
  last = line;
  if (terminal) {
    std::fprintf(stderr, "\r%s   ", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

// Note [istar run's shutdown order]
// Worker groups first, then the coordinator (SIGTERM: it drains in-flight calls), so that no
// report is cut off. A group's ranks get SIGTERM themselves, as a batch scheduler preempting the
// job sends it: an idle group exits at its next turn, one mid-trial checkpoints and hands the
// trial back (docs/worker.md), and mpirun ends when its ranks have. Signalling mpirun instead
// would not do: Open MPI's mpirun passes SIGTERM on but SIGKILLs the ranks 1 s later (its
// odls_base_sigkill_timeout), too soon for a checkpoint, and with a longer timeout it waits that
// long even for ranks that have exited (measured: 58 s for 30). Only a group still running after
// its grace period gets mpirun signalled, then SIGKILL (ChildProcess's destructor).
// The ranks are signalled every second: a group still starting may not have forked them yet.
void StopAll(std::vector<ChildProcess>& workers, ChildProcess& coordinator) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    bool running = false;
    for (ChildProcess& w : workers) {
      if (w.Poll().has_value()) continue;
      running = true;
      w.SignalChildren(SIGTERM);
    }
    if (!running) break;
    for (ChildProcess& w : workers) w.Wait(std::chrono::milliseconds(1000 / workers.size()));
  }
  for (ChildProcess& w : workers) {
    if (!w.Poll().has_value()) {
      w.Signal(SIGTERM);
      w.Wait(std::chrono::seconds(5));
    }
  }
  coordinator.Signal(SIGTERM);
  coordinator.Wait(std::chrono::seconds(15));
}

absl::StatusOr<int> Run(const RunFlags& flags) {
  // The sweep, with --set and --ranks applied, checked here before anything starts.
  std::vector<std::string> sets = flags.sets;
  if (flags.ranks > 0) sets.push_back(absl::StrCat("training.ranks_per_trial=", flags.ranks));
  ISTAR_ASSIGN_OR_RETURN(const std::string yaml, sweeps::LoadSweepText(flags.file, sets));
  ISTAR_ASSIGN_OR_RETURN(const sweeps::SweepSpec sweep, sweeps::ParseSweep(yaml, flags.file));
  const int64_t ranks = sweep.training.ranks_per_trial;

  // See trainer::ShareGpusAmongGroups: each group gets GPUs of its own (empty on CPUs).
  ISTAR_ASSIGN_OR_RETURN(const trainer::RankLaunch machine, trainer::ReadRankLaunch());
  ISTAR_ASSIGN_OR_RETURN(
      const std::vector<std::string> gpu_shares,
      trainer::ShareGpusAmongGroups(flags.device, machine, flags.workers, static_cast<int>(ranks)));

  std::error_code error;
  fs::create_directories(flags.log_dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--logs: cannot create ", flags.log_dir, ": ", error.message()));
  }
  char private_template[] = "/tmp/istar-run-XXXXXX";
  if (mkdtemp(private_template) == nullptr) return absl::InternalError("cannot make a temp dir");
  const fs::path private_dir(private_template);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{private_dir};
  ISTAR_ASSIGN_OR_RETURN(const std::string token_file, WriteToken(private_dir));
  const fs::path address_file = private_dir / "address";
  const std::string self = SelfPath();

  struct sigaction action = {};
  action.sa_handler = Interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const std::string coordinator_log = (fs::path(flags.log_dir) / "coordinator.log").string();
  ISTAR_ASSIGN_OR_RETURN(
      ChildProcess coordinator,
      ChildProcess::Start({self, "coordinator", "--db", flags.db_path, "--token-file", token_file,
                           "--address-file", address_file.string(), "--lease-ttl",
                           absl::StrCat(flags.lease_ttl_seconds)},
                          coordinator_log));
  ISTAR_ASSIGN_OR_RETURN(const std::string address,
                         AwaitAddress(address_file, coordinator, coordinator_log));
  std::string token;
  std::getline(std::ifstream(token_file), token);
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<coordinator::CoordinatorClient> client,
                         coordinator::CoordinatorClient::Connect(
                             {.address = address, .token = token}));
  ISTAR_ASSIGN_OR_RETURN(const coordinator::SubmittedSweep submitted,
                         client->SubmitSweep(yaml, flags.file));
  std::cerr << "istar run: sweep " << sweep.name << " (" << submitted.sweep_id.substr(0, 12)
            << "): " << submitted.trial_count << " trials, " << submitted.new_trials
            << " new; coordinator on " << address << "; " << flags.workers
            << " worker group(s) of " << ranks << " rank(s); logs in " << flags.log_dir << "/"
            << std::endl;

  std::vector<std::string> mpirun = {"mpirun", "-np", absl::StrCat(ranks), "--oversubscribe"};
  if (geteuid() == 0) mpirun.push_back("--allow-run-as-root");
  // A sweep already finished (run again on the same database) needs no worker groups.
  const absl::StatusOr<db::SweepProgress> before = client->GetSweep(submitted.sweep_id);
  const bool finished = before.ok() && db::FinishedTrials(*before) == before->trial_count;
  std::vector<ChildProcess> workers;
  for (int k = 0; k < (finished ? 0 : flags.workers); ++k) {
    std::vector<std::string> argv = mpirun;
    if (!gpu_shares.empty()) {
      argv.push_back("-x");
      argv.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES=", gpu_shares[static_cast<size_t>(k)]));
    }
    for (const std::string& a :
         {self, std::string("worker"), std::string("--coordinator"), address,
          std::string("--token-file"), token_file, std::string("--checkpoints"),
          flags.checkpoint_dir, std::string("--worker-id"), absl::StrCat("run-", getpid(), "-", k),
          std::string("--no-progress")}) {
      argv.push_back(a);
    }
    if (flags.float64) argv.push_back("--float64");
    argv.push_back("--device");
    argv.push_back(flags.device);
    ISTAR_ASSIGN_OR_RETURN(
        ChildProcess worker,
        ChildProcess::Start(argv, (fs::path(flags.log_dir) / absl::StrCat("worker-", k, ".log"))
                                      .string()));
    workers.push_back(std::move(worker));
  }

  const bool terminal = isatty(STDERR_FILENO);
  std::string last;
  db::SweepProgress progress;
  while (true) {
    if (g_interrupted.load()) {
      std::cerr << "\nistar run: interrupted; stopping the worker groups and the coordinator"
                << std::endl;
      StopAll(workers, coordinator);
      return absl::CancelledError("interrupted; run again to resume the sweep where it stopped");
    }
    const absl::StatusOr<db::SweepProgress> now = client->GetSweep(submitted.sweep_id);
    if (now.ok()) {
      progress = *now;
      ShowProgress(progress, terminal, last);
      if (db::FinishedTrials(progress) == progress.trial_count) break;
    }
    bool any_alive = false;
    for (ChildProcess& w : workers) any_alive |= !w.Poll().has_value();
    if (coordinator.Poll().has_value()) {
      StopAll(workers, coordinator);
      return absl::InternalError(absl::StrCat("the coordinator exited with code ",
                                              *coordinator.Poll(), "; see ", coordinator_log));
    }
    if (!any_alive) {
      StopAll(workers, coordinator);
      return absl::InternalError(absl::StrCat("every worker group exited before the sweep "
                                              "finished; see the logs in ",
                                              flags.log_dir));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (terminal) std::cerr << "\n";
  StopAll(workers, coordinator);
  ISTAR_RETURN_IF_ERROR(PrintComparison({.db = flags.db_path, .sweeps = {submitted.sweep_id}}));
  const auto failed = progress.by_status.find(db::TrialStatus::kFailed);
  if (failed != progress.by_status.end() && failed->second > 0) {
    std::cerr << "istar run: " << failed->second
              << " trial(s) failed: istar trials --db " << flags.db_path
              << " --status failed says why" << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

CommandRunner AddRunCommand(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a whole sweep on this machine: a coordinator on a free loopback port over the "
      "database, W worker groups of R MPI ranks, progress until every trial has finished, then "
      "the comparison table. Runs again resume: finished trials are not run twice.");
  cmd->add_option("FILE", flags->file, "Sweep file (YAML, docs/sweep-format.md)")->required();
  cmd->add_option("--set", flags->sets,
                  "Override a setting of the file: key.path=value (repeatable)");
  cmd->add_option("--workers", flags->workers, "Worker groups to start")
      ->default_val(2)
      ->check(CLI::Range(1, 256));
  cmd->add_option("--ranks", flags->ranks,
                  "MPI ranks per worker group (default: the file's training.ranks_per_trial)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--db", flags->db_path, "Results database (created if missing)")
      ->default_val("results.db");
  cmd->add_option("--checkpoints", flags->checkpoint_dir, "Checkpoint folder shared by the groups")
      ->default_val("checkpoints");
  cmd->add_option("--logs", flags->log_dir, "Folder for the coordinator's and workers' logs")
      ->default_val("istar-logs");
  cmd->add_option("--lease-ttl", flags->lease_ttl_seconds,
                  "Seconds a lease lasts without a heartbeat")
      ->default_val(30)
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_flag("--float64", flags->float64, "Train in float64 (tests)");
  cmd->add_option("--device", flags->device,
                  "cpu, cuda, cuda:N or auto (cuda where LibTorch sees a GPU): where the groups "
                  "train; on GPUs each group gets its own --ranks GPUs of this machine "
                  "(CUDA_VISIBLE_DEVICES), one per rank")
      ->default_val("auto");
  return [flags]() -> int {
    const absl::StatusOr<int> code = Run(*flags);
    return code.ok() ? *code : ReportError("run", code.status());
  };
}

}  // namespace istar::cli
