// What `istar run` will do, decided before anything starts (cli/run_command.cc): its flags, the
// sweep with every override applied and validated, where each file goes, and the batch scripts
// of a Slurm run. Nothing here starts a process or writes a file.
#ifndef ISTAR_CLI_RUN_PLAN_H_
#define ISTAR_CLI_RUN_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/slurm.h"
#include "sweeps/sweep.h"

namespace istar::cli {

// `istar run`'s flags (docs/cli.md).
struct RunFlags {
  std::string file;
  std::vector<std::string> sets;
  int workers = 2;
  int ranks = 0;  // 0: the file's training.ranks_per_trial
  std::string db_path = "results.db";
  std::string report_path = "report.html";  // written at the end; empty: none
  std::string dashboard;  // host:port (loopback) of a live dashboard during the run; empty: none
  std::string checkpoint_dir = "checkpoints";
  std::string log_dir = "istar-logs";
  double lease_ttl_seconds = 30;
  bool float64 = false;
  std::string device = "auto";
  std::string launcher = "local";
  std::string listen;  // default: 127.0.0.1:0 (local), 0.0.0.0:0 (slurm)
  std::string tls_cert, tls_key, tls_ca;
  bool insecure_plaintext = false;
  double hang_timeout_seconds = 600;
  // --launcher slurm
  std::string shared_dir = "istar-slurm";
  bool coordinator_job = false;
  bool dry_run = false;
  int max_restarts = 10;
  double restart_delay_seconds = 5;
  std::string partition, account, time;
};

// Where the run's files go and what each process is told. For Slurm every path is absolute
// and the private folder (token, address) is on the shared filesystem.
struct RunPlan {
  sweeps::SweepSpec sweep;
  sweeps::SlurmSettings slurm_settings;  // the sweep's launch.slurm, or its defaults
  std::string yaml;
  int64_t ranks = 1;
  bool slurm = false;
  std::string istar;
  std::string private_dir;  // token and address, mode 0700 / 0600
  std::string listen;
  std::string device;  // the groups' --device (Slurm: Note [Devices of Slurm groups])
  std::string db_path, checkpoint_dir, log_dir;
  std::vector<std::string> gpu_shares;  // local GPUs per group
};

// The sweep read with --set, --ranks and the Slurm flags applied, and the run's paths.
// InvalidArgument (exit 2) for a bad sweep, flag or path, before anything starts; the
// device errors of trainer::ShareGpusAmongGroups for local GPUs.
[[nodiscard]] absl::StatusOr<RunPlan> Plan(const RunFlags& flags);

std::string TokenFile(const RunPlan& plan);
std::string AddressFile(const RunPlan& plan);

// The coordinator's --hang-timeout for a run: half again the groups' own, so that a group that
// notices its hang reports it first (0 stays 0).
double CoordinatorHangTimeout(const RunFlags& flags);

// The Slurm jobs of the plan.
WorkerGroupJob GroupJob(const RunPlan& plan, const RunFlags& flags);
CoordinatorJob CoordinatorJobOf(const RunPlan& plan, const RunFlags& flags);

// --dry-run: prints what would be submitted to stdout; returns the exit code (0).
int PrintDryRun(const RunPlan& plan, const RunFlags& flags);

}  // namespace istar::cli

#endif  // ISTAR_CLI_RUN_PLAN_H_
