// `istar run FILE --workers W --ranks R`: a whole sweep, one command: a coordinator over a SQLite
// file, W worker groups of R MPI ranks each (on this machine under mpirun, or with
// --launcher slurm as a Slurm job array), a progress line until every trial has finished, then
// the comparison table (docs/cli.md, docs/deploy.md).
#include <fcntl.h>
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
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/compare.h"
#include "cli/launchers.h"
#include "cli/report.h"
#include "cli/run_plan.h"
#include "cli/slurm.h"
#include "coordinator/client.h"
#include "dashboard/dashboard.h"
#include "db/records.h"
#include "sweeps/sweep.h"

namespace istar::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
extern "C" void Interrupt(int) { g_interrupted.store(true); }

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
  std::error_code ignored;
  fs::remove(path, ignored);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  const std::string line = token + "\n";
  const bool written =
      fd >= 0 && write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) close(fd);
  if (!written) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return path.string();
}

// Waits for the coordinator to write its address file (or to end).
absl::StatusOr<std::string> AwaitAddress(const fs::path& address_file,
                                         CoordinatorProcess& coordinator,
                                         std::chrono::seconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up && !g_interrupted.load()) {
    std::ifstream in(address_file);
    std::string address;
    if (in && std::getline(in, address) && !address.empty()) return address;
    if (const std::optional<std::string> ended = coordinator.Ended()) {
      return absl::InternalError(absl::StrCat("the coordinator ", *ended));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (g_interrupted.load())
    return absl::CancelledError("interrupted before the coordinator started");
  return absl::DeadlineExceededError(absl::StrCat(
      "the coordinator did not write ", address_file.string(), " in ", timeout.count(), " s"));
}

std::string Count(const db::SweepProgress& progress, db::TrialStatus status) {
  const auto it = progress.by_status.find(status);
  return absl::StrCat(it == progress.by_status.end() ? 0 : it->second);
}

void ShowProgress(const db::SweepProgress& p, const std::string& groups, bool terminal,
                  std::string& last) {
  const std::string line =
      absl::StrCat(db::FinishedTrials(p), "/", p.trial_count, " trials finished (",
                   Count(p, db::TrialStatus::kDone), " done, ", Count(p, db::TrialStatus::kFailed),
                   " failed), ", Count(p, db::TrialStatus::kLeased), " running, ",
                   Count(p, db::TrialStatus::kPending), " pending; ", groups);
  if (line == last) return;
  last = line;
  if (terminal) {
    std::fprintf(stderr, "\r%s   ", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

absl::Status MakeFolders(const RunPlan& plan) {
  std::error_code error;
  for (const auto& [flag, dir] :
       {std::pair{"--logs", plan.log_dir}, std::pair{"--shared-dir", plan.private_dir}}) {
    if (dir.empty()) continue;
    fs::create_directories(dir, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": cannot create ", dir, ": ", error.message()));
    }
  }
  if (!plan.private_dir.empty()) chmod(plan.private_dir.c_str(), 0700);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> StartCoordinator(const RunPlan& plan,
                                                                     const RunFlags& flags) {
  if (flags.coordinator_job) {
    return SubmitCoordinatorJob(CoordinatorJobOf(plan, flags),
                                plan.private_dir + "/coordinator.sbatch");
  }
  std::vector<std::string> argv = {plan.istar,       "coordinator",
                                   "--db",           plan.db_path,
                                   "--token-file",   TokenFile(plan),
                                   "--address-file", AddressFile(plan),
                                   "--lease-ttl",    absl::StrCat(flags.lease_ttl_seconds),
                                   "--listen",       plan.listen,
                                   "--hang-timeout", absl::StrCat(CoordinatorHangTimeout(flags))};
  if (!IsLoopbackListen(plan.listen)) {
    argv.push_back("--allow-remote");  // Plan() has checked for TLS or --insecure-plaintext
    if (flags.insecure_plaintext) argv.push_back("--insecure-plaintext");
  }
  if (!flags.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", flags.tls_cert, "--tls-key", flags.tls_key});
  }
  return StartLocalCoordinator(argv, plan.log_dir + "/coordinator.log");
}

absl::StatusOr<std::unique_ptr<WorkerGroups>> StartGroups(const RunPlan& plan,
                                                          const RunFlags& flags,
                                                          const std::string& address) {
  if (plan.slurm) {
    return SubmitSlurmGroups({.groups = flags.workers,
                              .job = GroupJob(plan, flags),
                              .script_path = plan.private_dir + "/worker-group.sbatch",
                              .max_restarts = flags.max_restarts,
                              .restart_delay = std::chrono::milliseconds(
                                  static_cast<int64_t>(flags.restart_delay_seconds * 1000))});
  }
  std::vector<std::string> worker = {plan.istar,
                                     "worker",
                                     "--coordinator",
                                     address,
                                     "--token-file",
                                     TokenFile(plan),
                                     "--checkpoints",
                                     plan.checkpoint_dir,
                                     "--no-progress",
                                     "--device",
                                     plan.device,
                                     "--hang-timeout",
                                     absl::StrCat(flags.hang_timeout_seconds)};
  if (flags.float64) worker.push_back("--float64");
  if (!flags.tls_ca.empty()) worker.insert(worker.end(), {"--tls-ca", flags.tls_ca});
  return StartLocalGroups({.groups = flags.workers,
                           .ranks = plan.ranks,
                           .worker_argv = worker,
                           .gpu_shares = plan.gpu_shares,
                           .log_dir = plan.log_dir,
                           .max_restarts = flags.max_restarts,
                           .restart_delay = std::chrono::milliseconds(
                               static_cast<int64_t>(flags.restart_delay_seconds * 1000))});
}

// Until every trial has finished: the progress line, the groups supervised. Stops everything
// on an interrupt or a failure.
absl::StatusOr<db::SweepProgress> Supervise(coordinator::CoordinatorClient& client,
                                            const std::string& sweep_id,
                                            CoordinatorProcess& coordinator, WorkerGroups* groups) {
  const bool terminal = isatty(STDERR_FILENO);
  std::string last;
  db::SweepProgress progress;
  while (true) {
    if (g_interrupted.load()) {
      return absl::CancelledError("interrupted; run again to resume the sweep where it stopped");
    }
    const absl::StatusOr<db::SweepProgress> now = client.GetSweep(sweep_id);
    if (now.ok()) {
      progress = *now;
      ShowProgress(progress, groups != nullptr ? groups->Summary() : "no groups needed", terminal,
                   last);
      if (db::FinishedTrials(progress) == progress.trial_count) break;
    }
    if (const std::optional<std::string> ended = coordinator.Ended()) {
      return absl::InternalError(absl::StrCat("the coordinator ", *ended));
    }
    if (groups != nullptr) ISTAR_RETURN_IF_ERROR(groups->Supervise());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (terminal) std::cerr << "\n";
  return progress;
}

absl::StatusOr<int> Run(const RunFlags& flags) {
  ISTAR_ASSIGN_OR_RETURN(RunPlan plan, Plan(flags));
  if (flags.dry_run) return PrintDryRun(plan, flags);
  if (plan.slurm) ISTAR_RETURN_IF_ERROR(SlurmQueue().CheckClient());
  // Locally the token lives in a private temporary folder; for Slurm in --shared-dir, which the
  // nodes see. Either way the token and address files are removed at the end.
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      std::error_code ignored;
      for (const std::string& p : paths) fs::remove_all(p, ignored);
    }
  } cleanup;
  if (!plan.slurm) {
    char private_template[] = "/tmp/istar-run-XXXXXX";
    if (mkdtemp(private_template) == nullptr) return absl::InternalError("cannot make a temp dir");
    plan.private_dir = private_template;
    cleanup.paths.push_back(plan.private_dir);
  }
  ISTAR_RETURN_IF_ERROR(MakeFolders(plan));
  ISTAR_RETURN_IF_ERROR(WriteToken(plan.private_dir).status());
  std::error_code ignored;
  fs::remove(AddressFile(plan), ignored);
  if (plan.slurm) cleanup.paths = {TokenFile(plan), AddressFile(plan)};

  struct sigaction action = {};
  action.sa_handler = Interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<CoordinatorProcess> coordinator,
                         StartCoordinator(plan, flags));
  // A coordinator job may wait in the queue: give it as long as a user would.
  const absl::StatusOr<std::string> address = AwaitAddress(
      AddressFile(plan), *coordinator, std::chrono::seconds(flags.coordinator_job ? 3600 : 60));
  if (!address.ok()) {
    coordinator->Stop();
    return address.status();
  }
  std::string token;
  std::getline(std::ifstream(TokenFile(plan)), token);
  ISTAR_ASSIGN_OR_RETURN(
      std::unique_ptr<coordinator::CoordinatorClient> client,
      coordinator::CoordinatorClient::Connect(
          {.address = *address, .token = token, .tls = {.ca_file = flags.tls_ca}}));
  ISTAR_ASSIGN_OR_RETURN(const coordinator::SubmittedSweep submitted,
                         client->SubmitSweep(plan.yaml, flags.file));
  std::cerr << "istar run: sweep " << plan.sweep.name << " (" << submitted.sweep_id.substr(0, 12)
            << "): " << submitted.trial_count << " trials, " << submitted.new_trials
            << " new; coordinator on " << *address << "; " << flags.workers
            << " worker group(s) of " << plan.ranks << " rank(s)"
            << (plan.slurm ? " as Slurm jobs" : "") << "; logs in " << plan.log_dir << "/"
            << std::endl;

  // The live view, from here to the end of the run (the report is written before it stops).
  std::unique_ptr<dashboard::DashboardServer> live;
  if (!flags.dashboard.empty()) {
    absl::StatusOr<std::unique_ptr<dashboard::DashboardServer>> started =
        dashboard::DashboardServer::Start({.db_path = plan.db_path,
                                           .listen_address = flags.dashboard,
                                           .report = {.sweeps = {submitted.sweep_id}}});
    if (!started.ok()) {
      coordinator->Stop();
      return absl::Status(started.status().code(),
                          absl::StrCat("--dashboard: ", started.status().message()));
    }
    live = *std::move(started);
    std::cerr << "istar run: dashboard at " << live->url() << std::endl;
  }

  // A sweep already finished (run again on the same database) needs no worker groups.
  const absl::StatusOr<db::SweepProgress> before = client->GetSweep(submitted.sweep_id);
  const bool finished = before.ok() && db::FinishedTrials(*before) == before->trial_count;
  std::unique_ptr<WorkerGroups> groups;
  if (!finished) {
    absl::StatusOr<std::unique_ptr<WorkerGroups>> started = StartGroups(plan, flags, *address);
    if (!started.ok()) {
      coordinator->Stop();
      return started.status();
    }
    groups = *std::move(started);
  }
  const absl::StatusOr<db::SweepProgress> progress =
      Supervise(*client, submitted.sweep_id, *coordinator, groups.get());
  if (!progress.ok()) {
    std::cerr << "\nistar run: " << (g_interrupted.load() ? "interrupted" : "stopping")
              << "; stopping the worker groups and the coordinator" << std::endl;
  }
  if (groups != nullptr) groups->StopAll();  // Note [istar run's shutdown order]
  coordinator->Stop();
  if (!progress.ok()) {
    return absl::Status(progress.status().code(), absl::StrCat(progress.status().message(),
                                                               "; see the logs in ", plan.log_dir));
  }
  ISTAR_RETURN_IF_ERROR(PrintComparison({.db = plan.db_path, .sweeps = {submitted.sweep_id}}));
  if (!flags.report_path.empty()) {
    ISTAR_RETURN_IF_ERROR(
        WriteReport(plan.db_path, {.sweeps = {submitted.sweep_id}}, flags.report_path));
  }
  const auto failed = progress->by_status.find(db::TrialStatus::kFailed);
  if (failed != progress->by_status.end() && failed->second > 0) {
    std::cerr << "istar run: " << failed->second << " trial(s) failed: istar trials --db "
              << plan.db_path << " --status failed says why" << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

CommandRunner AddRunCommand(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a whole sweep: a coordinator over the database, W worker groups of R MPI ranks (on "
      "this machine, or as Slurm jobs with --launcher slurm), progress until every trial has "
      "finished, then the comparison table. Runs again resume: finished trials are not run "
      "twice.");
  cmd->add_option("FILE", flags->file, "Sweep file (YAML, docs/sweep-format.md)")->required();
  cmd->add_option("--set", flags->sets,
                  "Override a setting of the file: key.path=value (repeatable)");
  cmd->add_option("--workers", flags->workers, "Worker groups to keep running")
      ->default_val(2)
      ->check(CLI::Range(1, 256));
  cmd->add_option("--ranks", flags->ranks,
                  "MPI ranks per worker group (default: the file's training.ranks_per_trial)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--db", flags->db_path, "Results database (created if missing)")
      ->default_val("results.db");
  cmd->add_option("--dashboard", flags->dashboard,
                  "Serve the sweep's live dashboard (istar dashboard) on this loopback host:port "
                  "while it runs, e.g. 127.0.0.1:8080; port 0 picks a free one");
  cmd->add_option("--report", flags->report_path,
                  "The HTML report (istar report) written at the end; '' for none")
      ->default_val("report.html");
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
                  "train; locally on GPUs each group gets its own --ranks GPUs of this machine "
                  "(CUDA_VISIBLE_DEVICES), one per rank; under Slurm each rank its task's GPU, and "
                  "auto is cuda when launch.slurm.gpus_per_rank >= 1, else cpu")
      ->default_val("auto");
  cmd->add_option("--hang-timeout", flags->hang_timeout_seconds,
                  "Seconds a trial may go without a step before its group counts it hung, fails "
                  "it (retryable) and ends itself; the group is then restarted (0: never)")
      ->default_val(600)
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--launcher", flags->launcher,
                  "local: worker groups under mpirun on this machine; slurm: a job array of "
                  "worker groups, each started by srun --mpi=pmix (docs/deploy.md)")
      ->default_val("local")
      ->check(CLI::IsMember({"local", "slurm"}));
  cmd->add_option("--listen", flags->listen,
                  "host:port the coordinator listens on (default 127.0.0.1:0; with --launcher "
                  "slurm 0.0.0.0:0, announced by this machine's name: use TLS then)");
  cmd->add_option("--tls-cert", flags->tls_cert, "The coordinator's certificate chain (PEM)");
  cmd->add_option("--tls-key", flags->tls_key, "The coordinator's private key (PEM)");
  cmd->add_option("--tls-ca", flags->tls_ca, "CA (PEM) the groups verify the coordinator with");
  cmd->add_flag("--insecure-plaintext", flags->insecure_plaintext,
                "Let a non-loopback coordinator serve without TLS: the token crosses the network "
                "in clear (only on a network you trust)");
  auto* slurm = "Slurm (--launcher slurm)";
  cmd->add_option("--shared-dir", flags->shared_dir,
                  "Folder on the filesystem the nodes share: the token and address files "
                  "(mode 0600) and the batch scripts")
      ->default_val("istar-slurm")
      ->group(slurm);
  cmd->add_flag("--coordinator-job", flags->coordinator_job,
                "Run the coordinator as a Slurm job of its own instead of here")
      ->group(slurm);
  cmd->add_flag("--dry-run", flags->dry_run,
                "Print the batch script(s) it would submit, and submit nothing")
      ->group(slurm);
  cmd->add_option("--max-restarts", flags->max_restarts,
                  "Worker groups started again (Slurm: resubmitted) after ending before the "
                  "sweep did, all groups together, before the run gives up")
      ->default_val(10)
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--restart-delay", flags->restart_delay_seconds,
                  "Seconds before a group's first restart; doubled for each next one of that "
                  "group, at most 60")
      ->default_val(5)
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--partition", flags->partition, "Sets launch.slurm.partition")->group(slurm);
  cmd->add_option("--account", flags->account, "Sets launch.slurm.account")->group(slurm);
  cmd->add_option("--time", flags->time, "Sets launch.slurm.time (e.g. 1-00:00:00)")->group(slurm);
  return [flags]() -> int {
    const absl::StatusOr<int> code = Run(*flags);
    return code.ok() ? *code : ReportError("run", code.status());
  };
}

}  // namespace istar::cli
