// Slurm for `istar run --launcher slurm` (docs/deploy.md): the batch scripts of a worker group
// and of the coordinator, and the cluster's own commands (sbatch, squeue, scancel) run the way a
// user runs them. Nothing secret is ever in a script or on a command line: the coordinator's
// address and token reach the jobs as files (mode 0600) on the shared filesystem.
//
// Example:
//
//   const std::string script = WorkerGroupScript(job);  // written to a file, then
//   ISTAR_ASSIGN_OR_RETURN(std::string id, SlurmQueue().Submit(script_path, "0-3"));
//
// Thread safety: the functions are thread-safe; SlurmQueue holds no state.
#ifndef ISTAR_CLI_SLURM_H_
#define ISTAR_CLI_SLURM_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sweeps/sweep.h"

namespace istar::cli {

// One worker group: R ranks of one MPI job, started by `srun --mpi=pmix` inside a batch job.
// Paths are absolute (the job runs elsewhere) and hold no whitespace (#SBATCH lines cannot
// quote).
struct WorkerGroupJob {
  sweeps::SlurmSettings slurm;
  std::string job_name;        // JobName(sweep, "workers")
  int64_t ranks = 1;           // --ntasks
  std::string istar;           // the istar binary, as the nodes see it
  std::string address_file;    // the coordinator's address, one line
  std::string token_file;      // the token, mode 0600
  std::string checkpoint_dir;  // shared by every group
  std::string log_dir;         // worker-<job>_<index>.log, appended to across requeues
  std::string device = "auto";
  bool float64 = false;
  double hang_timeout_seconds = 600;  // istar worker --hang-timeout
  std::string tls_ca;                 // optional: verify the coordinator's certificate
  std::string tls_server_name;        // optional
};

// The batch script of one worker group (one element of a job array), docs/deploy.md.
std::string WorkerGroupScript(const WorkerGroupJob& job);

// The coordinator as a Slurm job of its own (`istar run --coordinator-job`).
struct CoordinatorJob {
  sweeps::SlurmSettings slurm;  // its partition, account and time; none of the group sizes
  std::string job_name;         // JobName(sweep, "coordinator")
  std::string istar;
  std::string db_path;
  std::string listen;  // host:port; a wildcard host is advertised by its node's name
  std::string token_file;
  std::string address_file;  // written by the coordinator once it listens
  std::string log_dir;
  double lease_ttl_seconds = 30;
  double hang_timeout_seconds = 900;  // istar coordinator --hang-timeout
  bool insecure_plaintext = false;    // a non-loopback listen without TLS, asked for
  std::string tls_cert;               // optional, both or neither
  std::string tls_key;
};

std::string CoordinatorScript(const CoordinatorJob& job);

// "istar-<sweep>-<role>", the sweep's name reduced to characters every Slurm tool shows as is.
std::string JobName(const std::string& sweep, const std::string& role);

// Whether `listen` (host:port) is on a loopback host (localhost, 127.*, [::1]).
bool IsLoopbackListen(const std::string& listen);

// InvalidArgument naming `flag` when `path` is not absolute or holds whitespace or a quote.
[[nodiscard]] absl::Status CheckScriptPath(const std::string& flag, const std::string& path);

// Slurm's client commands, found in PATH (SLURM_CONF chooses the cluster, as for any user).
class SlurmQueue {
 public:
  // OK when sbatch runs here and slurmctld answers (`sinfo`); FailedPrecondition saying which
  // is missing otherwise: checked before anything is started.
  [[nodiscard]] absl::Status CheckClient() const;
  // `sbatch --parsable [--array=ARRAY] SCRIPT`: the new job's id. FailedPrecondition with sbatch's
  // message when it refuses the job; NotFound without sbatch.
  [[nodiscard]] absl::StatusOr<std::string> Submit(const std::string& script_path,
                                                   const std::string& array) const;
  // The jobs named `job_name` of this user still in the queue, array elements one by one: id
  // ("123" or "123_4") -> state (PENDING, RUNNING, COMPLETING, ...). Unavailable when squeue
  // fails (slurmctld unreachable: try again later).
  [[nodiscard]] absl::StatusOr<std::map<std::string, std::string>> Jobs(
      const std::string& job_name) const;
  // `scancel [--signal=SIGNAL] [--batch] IDS...`. A signal other than KILL goes to the jobs'
  // steps (the ranks), or with `batch` to their batch scripts only.
  [[nodiscard]] absl::Status Cancel(const std::vector<std::string>& ids,
                                    const std::string& signal = "", bool batch = false) const;
};

}  // namespace istar::cli

#endif  // ISTAR_CLI_SLURM_H_
