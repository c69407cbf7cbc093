// The launcher of `istar run` on this machine: the coordinator and the worker groups (mpirun)
// as children of istar; and the restart policy every launcher shares (cli/launchers.h).
#include "cli/launchers.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/child_process.h"

namespace istar::cli {
namespace {

class LocalCoordinator final : public CoordinatorProcess {
 public:
  LocalCoordinator(ChildProcess child, std::string log)
      : child_(std::move(child)), log_(std::move(log)) {}

  std::optional<std::string> Ended() override {
    const std::optional<int> code = child_.Poll();
    if (!code.has_value()) return std::nullopt;
    return absl::StrCat("exited with code ", *code, "; see ", log_);
  }
  void Stop() override {
    child_.Signal(SIGTERM);
    child_.Wait(std::chrono::seconds(15));
  }

 private:
  ChildProcess child_;
  std::string log_;
};

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
class LocalGroups final : public WorkerGroups {
 public:
  explicit LocalGroups(std::vector<ChildProcess> groups) : groups_(std::move(groups)) {}

  absl::Status Supervise() override {
    if (!groups_.empty() && Running() == 0) {
      return absl::InternalError("every worker group exited before the sweep finished");
    }
    return absl::OkStatus();
  }
  std::string Summary() override { return absl::StrCat("groups: ", Running(), " running"); }
  void StopAll() override {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up && Running() > 0) {
      for (ChildProcess& g : groups_) g.SignalChildren(SIGTERM);
      for (ChildProcess& g : groups_) g.Wait(std::chrono::milliseconds(1000 / groups_.size()));
    }
    for (ChildProcess& g : groups_) {
      if (!g.Poll().has_value()) {
        g.Signal(SIGTERM);
        g.Wait(std::chrono::seconds(5));
      }
    }
  }

 private:
  int Running() {
    return static_cast<int>(std::count_if(groups_.begin(), groups_.end(),
                                          [](ChildProcess& g) { return !g.Poll().has_value(); }));
  }

  std::vector<ChildProcess> groups_;
};

}  // namespace

std::optional<Timestamp> RestartPolicy::Ended(int group) {
  if (used_ >= limit_) return std::nullopt;
  if (restarts_.size() <= static_cast<size_t>(group)) restarts_.resize(group + 1, 0);
  const int k = restarts_[group]++;
  ++used_;
  std::chrono::milliseconds delay = base_;
  for (int i = 0; i < k && delay < max_; ++i) delay *= 2;
  return clock_.Now() + std::min(delay, max_);
}

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> StartLocalCoordinator(
    const std::vector<std::string>& argv, const std::string& log) {
  ISTAR_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(argv, log));
  return std::make_unique<LocalCoordinator>(std::move(child), log);
}

absl::StatusOr<std::unique_ptr<WorkerGroups>> StartLocalGroups(const LocalGroupsOptions& options) {
  std::vector<std::string> mpirun = {"mpirun", "-np", absl::StrCat(options.ranks),
                                     "--oversubscribe"};
  if (geteuid() == 0) mpirun.push_back("--allow-run-as-root");
  std::vector<ChildProcess> groups;
  for (int k = 0; k < options.groups; ++k) {
    std::vector<std::string> argv = mpirun;
    if (!options.gpu_shares.empty()) {
      argv.push_back("-x");
      argv.push_back(
          absl::StrCat("CUDA_VISIBLE_DEVICES=", options.gpu_shares[static_cast<size_t>(k)]));
    }
    argv.insert(argv.end(), options.worker_argv.begin(), options.worker_argv.end());
    argv.push_back("--worker-id");
    argv.push_back(absl::StrCat("run-", getpid(), "-", k));
    ISTAR_ASSIGN_OR_RETURN(
        ChildProcess group,
        ChildProcess::Start(argv, absl::StrCat(options.log_dir, "/worker-", k, ".log")));
    groups.push_back(std::move(group));
  }
  return std::make_unique<LocalGroups>(std::move(groups));
}

}  // namespace istar::cli
