#include "cli/run_plan.h"

#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/listen_address.h"
#include "base/status_macros.h"
#include "trainer/device.h"

namespace istar::cli {
namespace {

namespace fs = std::filesystem;

std::string SelfPath() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("istar") : self.string();
}

std::string Absolute(const std::string& path) {
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  return (error ? fs::path(path) : absolute).lexically_normal().string();
}

}  // namespace

std::string TokenFile(const RunPlan& plan) { return plan.private_dir + "/token"; }
std::string AddressFile(const RunPlan& plan) { return plan.private_dir + "/address"; }

absl::StatusOr<RunPlan> Plan(const RunFlags& flags) {
  if (flags.launcher != "local" && flags.launcher != "slurm") {
    return absl::InvalidArgumentError(
        absl::StrCat("--launcher: expected local or slurm, got '", flags.launcher, "'"));
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together: give both or neither");
  }
  RunPlan plan;
  plan.slurm = flags.launcher == "slurm";
  if (!plan.slurm && (flags.coordinator_job || flags.dry_run)) {
    return absl::InvalidArgumentError("--coordinator-job and --dry-run need --launcher slurm");
  }
  if (!flags.dashboard.empty()) {
    if (flags.coordinator_job) {
      return absl::InvalidArgumentError(
          "--dashboard reads the database where istar run runs; with --coordinator-job the "
          "coordinator's job holds it: run `istar dashboard` on that node (docs/dashboard.md)");
    }
    if (!IsLoopbackHost(HostOfAddress(flags.dashboard))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dashboard ", flags.dashboard,
          ": give a loopback address (127.0.0.1:PORT, then ssh -L PORT:127.0.0.1:PORT); for "
          "other machines run `istar dashboard` with a token and TLS (docs/dashboard.md)"));
    }
  }
  // The sweep, with --set, --ranks and the Slurm flags applied, checked before anything starts.
  std::vector<std::string> sets = flags.sets;
  if (flags.ranks > 0) sets.push_back(absl::StrCat("training.ranks_per_trial=", flags.ranks));
  for (const auto& [key, value] :
       {std::pair{"partition", flags.partition}, std::pair{"account", flags.account},
        std::pair{"time", flags.time}}) {
    if (!value.empty()) sets.push_back(absl::StrCat("launch.slurm.", key, "=", value));
  }
  ISTAR_ASSIGN_OR_RETURN(plan.yaml, sweeps::LoadSweepText(flags.file, sets));
  ISTAR_ASSIGN_OR_RETURN(plan.sweep, sweeps::ParseSweep(plan.yaml, flags.file));
  plan.ranks = plan.sweep.training.ranks_per_trial;
  plan.istar = SelfPath();
  plan.listen = !flags.listen.empty() ? flags.listen : plan.slurm ? "0.0.0.0:0" : "127.0.0.1:0";
  if (!IsLoopbackListen(plan.listen) && flags.tls_cert.empty() && !flags.insecure_plaintext) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the coordinator would listen on ", plan.listen,
        " without TLS, and the token would cross the network in clear: give --tls-cert and "
        "--tls-key (docs/deploy.md), or --insecure-plaintext on a network you trust, or a "
        "loopback --listen (one machine)"));
  }
  if (!plan.slurm) {
    // See trainer::ShareGpusAmongGroups: each group gets GPUs of its own (empty on CPUs).
    ISTAR_ASSIGN_OR_RETURN(const trainer::RankLaunch machine, trainer::ReadRankLaunch());
    ISTAR_ASSIGN_OR_RETURN(plan.gpu_shares,
                           trainer::ShareGpusAmongGroups(flags.device, machine, flags.workers,
                                                         static_cast<int>(plan.ranks)));
    plan.device = flags.device;
    plan.db_path = flags.db_path;
    plan.checkpoint_dir = flags.checkpoint_dir;
    plan.log_dir = flags.log_dir;
    return plan;
  }
  plan.db_path = Absolute(flags.db_path);
  plan.checkpoint_dir = Absolute(flags.checkpoint_dir);
  plan.log_dir = Absolute(flags.log_dir);
  plan.private_dir = Absolute(flags.shared_dir);
  for (const auto& [flag, path] :
       {std::pair{"--db", plan.db_path}, std::pair{"--checkpoints", plan.checkpoint_dir},
        std::pair{"--logs", plan.log_dir}, std::pair{"--shared-dir", plan.private_dir},
        std::pair{"the istar binary", plan.istar}}) {
    ISTAR_RETURN_IF_ERROR(CheckScriptPath(flag, path));
  }
  // Note [Devices of Slurm groups]: a rank sees the GPUs Slurm binds to its task, none when the
  // sweep asks for none; and a node's GPUs that no task was given belong to other jobs. So
  // `auto` follows launch.slurm.gpus_per_rank rather than what the node has.
  plan.slurm_settings = plan.sweep.launch.slurm.value_or(sweeps::SlurmSettings{});
  const int64_t gpus = plan.slurm_settings.gpus_per_rank;
  plan.device = flags.device != "auto" ? flags.device : gpus > 0 ? "cuda" : "cpu";
  if (gpus == 0 && plan.device.starts_with("cuda")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device ", plan.device,
                     " needs GPUs: set launch.slurm.gpus_per_rank (e.g. --set "
                     "launch.slurm.gpus_per_rank=1)"));
  }
  return plan;
}

double CoordinatorHangTimeout(const RunFlags& flags) { return 1.5 * flags.hang_timeout_seconds; }

WorkerGroupJob GroupJob(const RunPlan& plan, const RunFlags& flags) {
  return {.slurm = plan.slurm_settings,
          .job_name = JobName(plan.sweep.name, "workers"),
          .ranks = plan.ranks,
          .istar = plan.istar,
          .address_file = AddressFile(plan),
          .token_file = TokenFile(plan),
          .checkpoint_dir = plan.checkpoint_dir,
          .log_dir = plan.log_dir,
          .device = plan.device,
          .float64 = flags.float64,
          .hang_timeout_seconds = flags.hang_timeout_seconds,
          .tls_ca = flags.tls_ca.empty() ? "" : Absolute(flags.tls_ca)};
}

CoordinatorJob CoordinatorJobOf(const RunPlan& plan, const RunFlags& flags) {
  return {.slurm = plan.slurm_settings,
          .job_name = JobName(plan.sweep.name, "coordinator"),
          .istar = plan.istar,
          .db_path = plan.db_path,
          .listen = plan.listen,
          .token_file = TokenFile(plan),
          .address_file = AddressFile(plan),
          .log_dir = plan.log_dir,
          .lease_ttl_seconds = flags.lease_ttl_seconds,
          .hang_timeout_seconds = CoordinatorHangTimeout(flags),
          .insecure_plaintext = flags.insecure_plaintext,
          .tls_cert = flags.tls_cert.empty() ? "" : Absolute(flags.tls_cert),
          .tls_key = flags.tls_key.empty() ? "" : Absolute(flags.tls_key)};
}

// --dry-run: what would be submitted, and nothing else.
int PrintDryRun(const RunPlan& plan, const RunFlags& flags) {
  if (flags.coordinator_job) {
    std::cout << "# sbatch " << plan.private_dir << "/coordinator.sbatch\n"
              << CoordinatorScript(CoordinatorJobOf(plan, flags)) << "\n";
  }
  std::cout << "# sbatch --array=0-" << flags.workers - 1 << " " << plan.private_dir
            << "/worker-group.sbatch\n"
            << WorkerGroupScript(GroupJob(plan, flags));
  return 0;
}

}  // namespace istar::cli
