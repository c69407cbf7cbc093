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
  explicit LocalGroups(const LocalGroupsOptions& options)
      : options_(options),
        restarts_(options.max_restarts, options.restart_delay, options.max_restart_delay,
                  SystemClock()) {}

  // Starts group `k` (again): mpirun of the worker, a name of its own for each start.
  absl::Status StartGroup(int k) {
    std::vector<std::string> argv = {"mpirun", "-np", absl::StrCat(options_.ranks),
                                     "--oversubscribe"};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    if (!options_.gpu_shares.empty()) {
      argv.push_back("-x");
      argv.push_back(
          absl::StrCat("CUDA_VISIBLE_DEVICES=", options_.gpu_shares[static_cast<size_t>(k)]));
    }
    argv.insert(argv.end(), options_.worker_argv.begin(), options_.worker_argv.end());
    argv.push_back("--worker-id");
    const int start = starts_[k]++;
    argv.push_back(
        absl::StrCat("run-", getpid(), "-", k, start > 0 ? absl::StrCat(".", start) : ""));
    ISTAR_ASSIGN_OR_RETURN(
        ChildProcess group,
        ChildProcess::Start(argv, absl::StrCat(options_.log_dir, "/worker-", k, ".log")));
    groups_[k].emplace(std::move(group));
    return absl::OkStatus();
  }
  absl::Status StartAll() {
    groups_.resize(options_.groups);
    restart_at_.resize(options_.groups);
    starts_.resize(options_.groups, 0);
    for (int k = 0; k < options_.groups; ++k) ISTAR_RETURN_IF_ERROR(StartGroup(k));
    return absl::OkStatus();
  }

  absl::Status Supervise() override {
    for (int k = 0; k < options_.groups; ++k) {
      std::optional<ChildProcess>& group = groups_[k];
      if (group.has_value()) {
        const std::optional<int> code = group->Poll();
        if (!code.has_value()) continue;
        group.reset();
        restart_at_[k] = restarts_.Ended(k);
        std::cerr << "\nistar run: worker group " << k << " exited with code " << *code << "; "
                  << (restart_at_[k].has_value()
                          ? absl::StrCat(
                                "restarting it in ",
                                std::chrono::duration<double>(*restart_at_[k] - SystemClock().Now())
                                    .count(),
                                " s")
                          : std::string("no restart left (--max-restarts)"))
                  << "; see " << options_.log_dir << "/worker-" << k << ".log" << std::endl;
      } else if (restart_at_[k].has_value() && SystemClock().Now() >= *restart_at_[k]) {
        restart_at_[k].reset();
        ISTAR_RETURN_IF_ERROR(StartGroup(k));
      }
    }
    if (Running() > 0 || std::any_of(restart_at_.begin(), restart_at_.end(),
                                     [](const auto& at) { return at.has_value(); })) {
      return absl::OkStatus();
    }
    return absl::InternalError(
        absl::StrCat("every worker group exited before the sweep finished, and the ",
                     restarts_.limit(), " restarts of --max-restarts are used up"));
  }
  std::string Summary() override {
    std::string summary = absl::StrCat("groups: ", Running(), " running");
    if (restarts_.used() > 0) absl::StrAppend(&summary, ", ", restarts_.used(), " restarted");
    return summary;
  }
  void StopAll() override {
    for (auto& at : restart_at_) at.reset();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up && Running() > 0) {
      for (auto& g : groups_) {
        if (g.has_value()) g->SignalChildren(SIGTERM);
      }
      for (auto& g : groups_) {
        if (g.has_value()) g->Wait(std::chrono::milliseconds(1000 / groups_.size()));
      }
    }
    for (auto& g : groups_) {
      if (g.has_value() && !g->Poll().has_value()) {
        g->Signal(SIGTERM);
        g->Wait(std::chrono::seconds(5));
      }
    }
  }

 private:
  int Running() {
    return static_cast<int>(std::count_if(groups_.begin(), groups_.end(), [](auto& g) {
      return g.has_value() && !g->Poll().has_value();
    }));
  }

  LocalGroupsOptions options_;
  RestartPolicy restarts_;
  std::vector<std::optional<ChildProcess>> groups_;
  std::vector<std::optional<Timestamp>> restart_at_;  // set while a group waits to restart
  std::vector<int> starts_;                           // starts of each group so far
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
  auto groups = std::make_unique<LocalGroups>(options);
  ISTAR_RETURN_IF_ERROR(groups->StartAll());
  return groups;
}

}  // namespace istar::cli
