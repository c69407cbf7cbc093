// The batch scripts `istar run --launcher slurm` submits (their annotated form is in
// deploy/slurm/worker-group.sbatch and docs/deploy.md).
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/listen_address.h"
#include "cli/slurm.h"

namespace istar::cli {
namespace {

// The #SBATCH lines every job of the run shares: where it may run and for how long.
void AppendPlacement(const sweeps::SlurmSettings& slurm, std::string& script) {
  if (!slurm.partition.empty())
    absl::StrAppend(&script, "#SBATCH --partition=", slurm.partition, "\n");
  if (!slurm.account.empty()) absl::StrAppend(&script, "#SBATCH --account=", slurm.account, "\n");
  if (!slurm.time.empty()) absl::StrAppend(&script, "#SBATCH --time=", slurm.time, "\n");
}

// `word` as one shell word: single-quoted unless it is made of plain characters only.
std::string Quote(std::string_view word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./:=+,@%") == std::string_view::npos;
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string Words(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) quoted.push_back(Quote(w));
  return absl::StrJoin(quoted, " ");
}

}  // namespace

std::string JobName(const std::string& sweep, const std::string& role) {
  std::string name = "istar-";
  for (char c : sweep) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    name += keep ? c : '_';
  }
  return absl::StrCat(name, "-", role);
}

bool IsLoopbackListen(const std::string& listen) { return IsLoopbackHost(HostOfAddress(listen)); }

absl::Status CheckScriptPath(const std::string& flag, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' is not an absolute path"));
  }
  if (path.find_first_of(" \t\r\n'\"\\$`") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", path,
                     "' holds whitespace, a quote, $ or a backslash, which #SBATCH lines cannot "
                     "carry; choose a plain path"));
  }
  return absl::OkStatus();
}

// Note [A worker group's batch script]
// Each array element is one worker group: the batch script runs on the group's first node and
// starts its R ranks as one job step, `srun --mpi=pmix` (Open MPI 4 starts directly under
// Slurm's PMIx; no mpirun). Preemption and the time limit both end in SIGTERM to the ranks,
// which checkpoint and hand their trial back (docs/worker.md):
//   - a preemption (and `scancel --signal=TERM`) signals the job's steps, so the ranks;
//   - `--signal=B:TERM@N` signals only this script, N seconds before the time limit. Bash runs
//     a trap only between commands, so srun runs in the background and the script waits for
//     it; the trap signals the job's steps as a preemption does (`scancel --signal=TERM` of
//     the job itself). Signalling srun instead would not do: srun takes SIGTERM as "end the
//     step" and its ranks were killed before they could hand anything back (measured here).
// `--requeue` lets Slurm put a preempted group back in the queue under the same job id (its log
// is appended to); `istar run` resubmits a group that ended for any other reason.
std::string WorkerGroupScript(const WorkerGroupJob& job) {
  const sweeps::SlurmSettings& slurm = job.slurm;
  std::string script = absl::StrCat(
      "#!/bin/bash\n"
      "# One istar worker group: ",
      job.ranks,
      " rank(s) of one MPI job. Written by `istar run --launcher slurm`\n"
      "# (docs/deploy.md); each element of the job array is one group.\n"
      "#SBATCH --job-name=",
      job.job_name, "\n#SBATCH --ntasks=", job.ranks, "\n#SBATCH --nodes=", slurm.nodes_per_group,
      "\n#SBATCH --cpus-per-task=", slurm.cpus_per_rank, "\n");
  if (slurm.gpus_per_rank > 0) {
    absl::StrAppend(&script, "#SBATCH --gpus-per-task=", slurm.gpus_per_rank, "\n");
  }
  if (!slurm.mem.empty()) absl::StrAppend(&script, "#SBATCH --mem=", slurm.mem, "\n");
  AppendPlacement(slurm, script);
  absl::StrAppend(&script, "#SBATCH --requeue\n");
  if (slurm.signal_seconds > 0) {
    absl::StrAppend(&script, "#SBATCH --signal=B:TERM@", slurm.signal_seconds, "\n");
  }
  absl::StrAppend(&script, "#SBATCH --output=", job.log_dir,
                  "/worker-%A_%a.log\n#SBATCH --open-mode=append\n");
  for (const std::string& arg : slurm.extra_args) absl::StrAppend(&script, "#SBATCH ", arg, "\n");
  absl::StrAppend(&script, "set -u\n");
  for (const std::string& line : slurm.setup) absl::StrAppend(&script, line, "\n");

  std::vector<std::string> worker = {
      job.istar,      "worker",       "--coordinator-file", job.address_file,
      "--token-file", job.token_file, "--checkpoints",      job.checkpoint_dir,
      "--device",     job.device,     "--hang-timeout",     absl::StrCat(job.hang_timeout_seconds)};
  if (job.float64) worker.push_back("--float64");
  if (!job.tls_ca.empty()) worker.insert(worker.end(), {"--tls-ca", job.tls_ca});
  if (!job.tls_server_name.empty()) {
    worker.insert(worker.end(), {"--tls-server-name", job.tls_server_name});
  }
  absl::StrAppend(
      &script,
      "# A new name for each start of the group, so the database tells its attempts apart.\n"
      "group=\"slurm-${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0}"
      ".${SLURM_RESTART_COUNT:-0}\"\n"
      "echo \"istar worker group $group on $SLURM_JOB_NODELIST\"\n"
      "# The ranks run as one job step. Slurm's --signal=B:TERM reaches only this script, so\n"
      "# srun runs in the background and TERM is passed on to the job's steps, as a\n"
      "# preemption sends it: every rank checkpoints and hands its trial back (docs/deploy.md).\n"
      "srun --mpi=pmix --kill-on-bad-exit=1 ",
      Words(worker),
      " --worker-id \"$group\" &\n"
      "step=$!\n"
      "trap 'scancel --signal=TERM \"$SLURM_JOB_ID\"' TERM\n"
      "wait \"$step\"\n"
      "code=$?\n"
      "while kill -0 \"$step\" 2> /dev/null; do wait \"$step\"; code=$?; done\n"
      "exit \"$code\"\n");
  return script;
}

std::string CoordinatorScript(const CoordinatorJob& job) {
  std::string script = absl::StrCat(
      "#!/bin/bash\n"
      "# The istar coordinator of a sweep, the only writer of its database. Written by\n"
      "# `istar run --launcher slurm --coordinator-job` (docs/deploy.md).\n"
      "#SBATCH --job-name=",
      job.job_name, "\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=2\n");
  AppendPlacement(job.slurm, script);
  absl::StrAppend(&script, "#SBATCH --output=", job.log_dir,
                  "/coordinator-%j.log\n#SBATCH --open-mode=append\n");
  std::vector<std::string> coordinator = {job.istar,        "coordinator",
                                          "--db",           job.db_path,
                                          "--listen",       job.listen,
                                          "--token-file",   job.token_file,
                                          "--address-file", job.address_file,
                                          "--lease-ttl",    absl::StrCat(job.lease_ttl_seconds),
                                          "--hang-timeout", absl::StrCat(job.hang_timeout_seconds)};
  if (!IsLoopbackListen(job.listen)) {
    coordinator.push_back("--allow-remote");
    if (job.insecure_plaintext) coordinator.push_back("--insecure-plaintext");
  }
  if (!job.tls_cert.empty()) {
    coordinator.insert(coordinator.end(), {"--tls-cert", job.tls_cert, "--tls-key", job.tls_key});
  }
  absl::StrAppend(&script,
                  "# exec: SIGTERM (scancel --batch --signal=TERM) reaches the coordinator, which\n"
                  "# drains its calls and stops.\n"
                  "exec ",
                  Words(coordinator), "\n");
  return script;
}

}  // namespace istar::cli
