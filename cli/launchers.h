// How `istar run` starts its processes (docs/cli.md, docs/deploy.md): the coordinator and the
// worker groups, either on this machine (mpirun) or as Slurm jobs (sbatch, srun --mpi=pmix).
// run_command.cc drives either through the same two interfaces: it waits for the coordinator's
// address, submits the sweep, then calls WorkerGroups::Supervise() until every trial has
// finished, and stops the groups before the coordinator.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<WorkerGroups> groups, SubmitSlurmGroups(options));
//   while (!finished) { ISTAR_RETURN_IF_ERROR(groups->Supervise()); ... }
//   groups->StopAll();
//
// Thread safety: none; one thread drives a run.
#ifndef ISTAR_CLI_LAUNCHERS_H_
#define ISTAR_CLI_LAUNCHERS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "cli/slurm.h"

namespace istar::cli {

// The coordinator of a run, wherever it runs.
class CoordinatorProcess {
 public:
  virtual ~CoordinatorProcess() = default;
  // Why it is no longer running ("exited with code 1; see LOG"), or nullopt while it runs.
  virtual std::optional<std::string> Ended() = 0;
  // SIGTERM (it drains its calls), then waits for it; a coordinator still running after its
  // grace period is killed.
  virtual void Stop() = 0;
};

// The worker groups of a run, however they are started.
class WorkerGroups {
 public:
  virtual ~WorkerGroups() = default;
  // Looks at the groups once, restarting those that ended where the launcher does that. An
  // error ends the run: every group has ended and none may be started again.
  [[nodiscard]] virtual absl::Status Supervise() = 0;
  // The groups' state for the progress line: "groups: 2 running".
  virtual std::string Summary() = 0;
  // Stops every group (Note [istar run's shutdown order]): SIGTERM to the ranks, which hand a
  // running trial back, then SIGKILL to what is left after a grace period. Idempotent.
  virtual void StopAll() = 0;
};

// When a group that ended is started again: the k-th restart of one group waits
// min(base * 2^(k-1), max) after it ended, and the run gives up once `limit` restarts have been
// used by all groups together (a sweep whose groups keep dying needs a person, not a loop).
class RestartPolicy {
 public:
  RestartPolicy(int limit, std::chrono::milliseconds base, std::chrono::milliseconds max,
                const Clock& clock)
      : limit_(limit), base_(base), max_(max), clock_(clock) {}

  // Group `group` ended now: when it may start again, or nullopt when no restart is left.
  std::optional<Timestamp> Ended(int group);
  // The restarts granted so far, by all groups.
  int used() const { return used_; }
  int limit() const { return limit_; }

 private:
  int limit_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  const Clock& clock_;
  std::vector<int> restarts_;  // per group
  int used_ = 0;
};

// The coordinator as a child of this process, its output appended to `log`.
[[nodiscard]] absl::StatusOr<std::unique_ptr<CoordinatorProcess>> StartLocalCoordinator(
    const std::vector<std::string>& argv, const std::string& log);

// The coordinator as a Slurm job: `script` (CoordinatorScript) is written to `script_path`
// and submitted.
[[nodiscard]] absl::StatusOr<std::unique_ptr<CoordinatorProcess>> SubmitCoordinatorJob(
    const CoordinatorJob& job, const std::string& script_path);

// W groups of mpirun on this machine, each group that exits before the sweep started again (its
// ranks are killed, or its node's MPI failed) under a RestartPolicy; a group's log,
// worker-<k>.log, is appended to by each of its starts, named run-<pid>-<k>[.<start>].
struct LocalGroupsOptions {
  int groups = 1;
  int64_t ranks = 1;
  std::vector<std::string> worker_argv;  // `istar worker ...` without --worker-id
  std::vector<std::string> gpu_shares;   // CUDA_VISIBLE_DEVICES per group; empty on CPUs
  std::string log_dir;                   // worker-<k>.log
  int max_restarts = 10;
  std::chrono::milliseconds restart_delay{1000};  // the first restart's; doubled after
  std::chrono::milliseconds max_restart_delay{60'000};
};
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkerGroups>> StartLocalGroups(
    const LocalGroupsOptions& options);

// W groups as one Slurm job array, each group ended before the sweep resubmitted alone.
struct SlurmGroupsOptions {
  int groups = 1;
  WorkerGroupJob job;
  std::string script_path;  // WorkerGroupScript(job) is written here and submitted
  int max_restarts = 10;
  std::chrono::milliseconds restart_delay{1000};  // the first restart's; doubled after
  std::chrono::milliseconds max_restart_delay{60'000};
  std::chrono::milliseconds poll_interval{2000};  // squeue at most this often
};
[[nodiscard]] absl::StatusOr<std::unique_ptr<WorkerGroups>> SubmitSlurmGroups(
    const SlurmGroupsOptions& options);

}  // namespace istar::cli

#endif  // ISTAR_CLI_LAUNCHERS_H_
