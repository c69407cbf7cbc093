// The launcher of `istar run --launcher slurm` (cli/launchers.h): the coordinator as a Slurm job
// (--coordinator-job) and the worker groups as one job array, each group that ends before the
// sweep resubmitted alone.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/launchers.h"
#include "cli/slurm.h"

namespace istar::cli {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

absl::Status WriteScript(const std::string& path, const std::string& script) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << script;
    if (!out) return absl::InternalError(absl::StrCat("cannot write the batch script ", path));
  }
  chmod(path.c_str(), 0700);
  return absl::OkStatus();
}

bool IsRunning(const std::string& state) { return state == "RUNNING" || state == "COMPLETING"; }

// Waits until none of `ids` is in the queue any more, for at most `timeout`. The ids still there.
std::vector<std::string> AwaitGone(const SlurmQueue& queue, const std::string& name,
                                   std::vector<std::string> ids, std::chrono::seconds timeout) {
  const SteadyTime give_up = std::chrono::steady_clock::now() + timeout;
  while (!ids.empty()) {
    const absl::StatusOr<std::map<std::string, std::string>> jobs = queue.Jobs(name);
    if (jobs.ok()) std::erase_if(ids, [&](const std::string& id) { return !jobs->contains(id); });
    if (ids.empty() || std::chrono::steady_clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return ids;
}

void Warn(const absl::Status& status) {
  if (!status.ok()) std::cerr << "\nistar run: " << status.message() << std::endl;
}

class SlurmCoordinator final : public CoordinatorProcess {
 public:
  SlurmCoordinator(std::string name, std::string id, std::string log_dir)
      : name_(std::move(name)), id_(std::move(id)), log_dir_(std::move(log_dir)) {}
  // The job is this object's: a run that fails on its way leaves no coordinator in the queue.
  ~SlurmCoordinator() override { Stop(); }

  std::optional<std::string> Ended() override {
    if (std::chrono::steady_clock::now() < next_look_) return std::nullopt;
    next_look_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    const absl::StatusOr<std::map<std::string, std::string>> jobs = queue_.Jobs(name_);
    if (!jobs.ok() || jobs->contains(id_)) return std::nullopt;  // a failed squeue proves nothing
    return absl::StrCat("its Slurm job ", id_, " ended; see ", log_dir_, "/coordinator-", id_,
                        ".log");
  }
  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    Warn(queue_.Cancel({id_}, "TERM", /*batch=*/true));
    if (!AwaitGone(queue_, name_, {id_}, std::chrono::seconds(20)).empty()) {
      Warn(queue_.Cancel({id_}));
      AwaitGone(queue_, name_, {id_}, std::chrono::seconds(20));
    }
  }

 private:
  SlurmQueue queue_;
  std::string name_;
  std::string id_;
  std::string log_dir_;
  SteadyTime next_look_{};
  bool stopped_ = false;
};

// One worker group's place in the array: the job now running it, or when it starts again.
struct Slot {
  std::string job;                      // "123_4"; empty while it waits to restart
  std::optional<Timestamp> restart_at;  // set while it waits
  bool given_up = false;
};

class SlurmGroups final : public WorkerGroups {
 public:
  SlurmGroups(const SlurmGroupsOptions& options, std::string array_job)
      : options_(options),
        restarts_(options.max_restarts, options.restart_delay, options.max_restart_delay,
                  SystemClock()) {
    for (int k = 0; k < options.groups; ++k) {
      slots_.push_back({.job = absl::StrCat(array_job, "_", k)});
    }
  }
  // The jobs are this object's: a run that fails on its way leaves none in the queue.
  ~SlurmGroups() override { StopAll(); }

  absl::Status Supervise() override {
    if (std::chrono::steady_clock::now() >= next_look_) {
      next_look_ = std::chrono::steady_clock::now() + options_.poll_interval;
      const absl::StatusOr<std::map<std::string, std::string>> jobs =
          queue_.Jobs(options_.job.job_name);
      if (!jobs.ok()) {
        Warn(jobs.status());  // slurmctld busy or restarting: look again next time
        return absl::OkStatus();
      }
      states_ = *jobs;
      for (size_t k = 0; k < slots_.size(); ++k) NoticeEnd(static_cast<int>(k));
    }
    for (size_t k = 0; k < slots_.size(); ++k) ISTAR_RETURN_IF_ERROR(RestartIfDue(k));
    const bool any =
        std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.given_up; });
    if (any) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(
        "the worker groups ended ", restarts_.used() + static_cast<int>(slots_.size()),
        " times before the sweep finished, and the ", restarts_.limit(),
        " restarts of --max-restarts are used up; see the logs in ", options_.job.log_dir));
  }

  std::string Summary() override {
    int running = 0, queued = 0, waiting = 0;
    for (const Slot& s : slots_) {
      if (s.job.empty()) {
        waiting += s.given_up ? 0 : 1;
        continue;
      }
      const auto it = states_.find(s.job);
      (it != states_.end() && IsRunning(it->second) ? running : queued)++;
    }
    std::string summary = absl::StrCat("groups: ", running, " running, ", queued, " queued");
    if (waiting > 0) absl::StrAppend(&summary, ", ", waiting, " to resubmit");
    if (restarts_.used() > 0) absl::StrAppend(&summary, ", ", restarts_.used(), " resubmitted");
    return summary;
  }

  void StopAll() override {
    if (std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.job.empty(); })) {
      return;  // stopped already, or nothing left to stop
    }
    std::vector<std::string> running, queued;
    const absl::StatusOr<std::map<std::string, std::string>> jobs =
        queue_.Jobs(options_.job.job_name);
    for (Slot& s : slots_) {
      s.given_up = true;
      if (s.job.empty()) continue;
      const bool is_running = !jobs.ok() || (jobs->contains(s.job) && IsRunning(jobs->at(s.job)));
      (is_running ? running : queued).push_back(s.job);
    }
    // A queued group has no ranks to stop; a running one hands its trial back on SIGTERM.
    Warn(queue_.Cancel(queued));
    Warn(queue_.Cancel(running, "TERM"));
    std::vector<std::string> left =
        AwaitGone(queue_, options_.job.job_name, running, std::chrono::seconds(60));
    left.insert(left.end(), queued.begin(), queued.end());
    Warn(queue_.Cancel(left));
    left = AwaitGone(queue_, options_.job.job_name, left, std::chrono::seconds(30));
    if (!left.empty()) {
      std::cerr << "istar run: Slurm still lists " << left.size()
                << " worker group job(s) of this run; check `squeue --name "
                << options_.job.job_name << "`" << std::endl;
    }
    for (Slot& s : slots_) s.job.clear();
  }

 private:
  void NoticeEnd(int k) {
    Slot& slot = slots_[k];
    if (slot.job.empty() || states_.contains(slot.job)) return;
    const std::string ended = slot.job;
    slot.job.clear();
    slot.restart_at = restarts_.Ended(k);
    slot.given_up = !slot.restart_at.has_value();
    std::cerr
        << "\nistar run: worker group " << k << " (job " << ended << ") ended; "
        << (slot.given_up
                ? "no restart left (--max-restarts)"
                : absl::StrCat(
                      "resubmitting it in ",
                      std::chrono::duration<double>(*slot.restart_at - SystemClock().Now()).count(),
                      " s"))
        << std::endl;
  }

  absl::Status RestartIfDue(size_t k) {
    Slot& slot = slots_[k];
    if (!slot.restart_at.has_value() || SystemClock().Now() < *slot.restart_at) {
      return absl::OkStatus();
    }
    ISTAR_ASSIGN_OR_RETURN(const std::string id,
                           queue_.Submit(options_.script_path, absl::StrCat(k)));
    slot.job = absl::StrCat(id, "_", k);
    slot.restart_at.reset();
    states_[slot.job] = "PENDING";
    return absl::OkStatus();
  }

  SlurmGroupsOptions options_;
  SlurmQueue queue_;
  RestartPolicy restarts_;
  std::vector<Slot> slots_;
  std::map<std::string, std::string> states_;  // from the last squeue
  SteadyTime next_look_{};
};

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> SubmitCoordinatorJob(
    const CoordinatorJob& job, const std::string& script_path) {
  ISTAR_RETURN_IF_ERROR(WriteScript(script_path, CoordinatorScript(job)));
  ISTAR_ASSIGN_OR_RETURN(const std::string id, SlurmQueue().Submit(script_path, ""));
  return std::make_unique<SlurmCoordinator>(job.job_name, id, job.log_dir);
}

absl::StatusOr<std::unique_ptr<WorkerGroups>> SubmitSlurmGroups(const SlurmGroupsOptions& options) {
  ISTAR_RETURN_IF_ERROR(WriteScript(options.script_path, WorkerGroupScript(options.job)));
  ISTAR_ASSIGN_OR_RETURN(
      const std::string id,
      SlurmQueue().Submit(options.script_path, absl::StrCat("0-", options.groups - 1)));
  return std::make_unique<SlurmGroups>(options, id);
}

}  // namespace istar::cli
