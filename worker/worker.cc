// A worker group's loop (worker/worker.h).
#include "worker/worker.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "comm/communicator.h"
#include "coordinator/client.h"
#include "db/store.h"
#include "sweeps/sweep.h"
#include "trainer/trainer.h"
#include "worker/internal/heartbeat.h"
#include "worker/internal/result_sink.h"
#include "worker/internal/simulate.h"
#include "worker/internal/watchdog.h"

namespace istar::worker {
namespace {

using internal::IsTransient;

// What rank 0 tells the group to do next (broadcast as JSON, the kind as its number: every rank
// runs the same binary).
enum class OrderKind {
  kTrain,  // train `lease`
  kWait,   // nothing pending: ask again after wait_ms
  kStop,   // stop asked for, max_trials reached or idle for too long
  kError,  // the coordinator refused (error_code, error)
};

struct Order {
  OrderKind kind = OrderKind::kStop;
  db::Lease lease;  // kTrain
  int64_t wait_ms = 0;
  int64_t error_code = 0;  // kError
  std::string error;
};

// The order that ends the group with `status`, a refusal of the coordinator's.
Order ErrorOrder(const absl::Status& status) {
  return {.kind = OrderKind::kError,
          .error_code = static_cast<int64_t>(status.code()),
          .error = std::string(status.message())};
}

std::string Encode(const Order& order) {
  return nlohmann::json{{"kind", static_cast<int>(order.kind)},
                        {"trial_id", order.lease.trial_id},
                        {"canonical_json", order.lease.canonical_json},
                        {"ranks_per_trial", order.lease.ranks_per_trial},
                        {"gradient_accumulation_steps", order.lease.gradient_accumulation_steps},
                        {"attempt", order.lease.attempt},
                        {"fencing_token", order.lease.fencing_token},
                        {"wait_ms", order.wait_ms},
                        {"error_code", order.error_code},
                        {"error", order.error}}
      .dump();
}

Order Decode(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text);
  Order order;
  order.kind = static_cast<OrderKind>(json.at("kind").get<int>());
  order.lease.trial_id = json.at("trial_id").get<std::string>();
  order.lease.canonical_json = json.at("canonical_json").get<std::string>();
  order.lease.ranks_per_trial = json.at("ranks_per_trial").get<int64_t>();
  order.lease.gradient_accumulation_steps = json.at("gradient_accumulation_steps").get<int64_t>();
  order.lease.attempt = json.at("attempt").get<int64_t>();
  order.lease.fencing_token = json.at("fencing_token").get<int64_t>();
  order.wait_ms = json.at("wait_ms").get<int64_t>();
  order.error_code = json.at("error_code").get<int64_t>();
  order.error = json.at("error").get<std::string>();
  return order;
}

// Rank 0's text to every rank: the length, then the bytes.
absl::Status BroadcastText(comm::Communicator& group, std::string& text) {
  std::array<int64_t, 1> size = {static_cast<int64_t>(text.size())};
  ISTAR_RETURN_IF_ERROR(group.Broadcast(std::as_writable_bytes(std::span<int64_t>(size)), 0));
  text.resize(static_cast<size_t>(size[0]));
  return group.Broadcast(std::as_writable_bytes(std::span<char>(text.data(), text.size())), 0);
}

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& value) {
  return value.status();
}

// Calls `call` until it succeeds, fails for good, or `patience` runs out while the coordinator
// is unreachable (exponential backoff from 0.1 s to 5 s).
template <typename Call>
auto Retry(std::chrono::milliseconds patience, Call call) -> decltype(call()) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  std::chrono::milliseconds backoff(100);
  while (true) {
    auto result = call();
    if (result.ok() || !IsTransient(StatusOf(result)) ||
        std::chrono::steady_clock::now() + backoff > give_up) {
      return result;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
  }
}

std::string DefaultWorkerId() {
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  return absl::StrCat(host.data(), "-", getpid());
}

// Errors that another attempt could fix (a crash of the machine, memory), as opposed to a bad
// trial (missing data, an invalid setting).
bool Retryable(const absl::Status& status) {
  return !(absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
           absl::IsFailedPrecondition(status) || absl::IsOutOfRange(status));
}

// Rank 0's side of the loop: the coordinator's client and the state of the group.
class Leader {
 public:
  Leader(const WorkerOptions& options, coordinator::CoordinatorClient& client, int ranks)
      : options_(options),
        client_(client),
        ranks_(ranks),
        worker_id_(options.worker_id.empty() ? DefaultWorkerId() : options.worker_id) {}

  absl::Status Register() {
    ISTAR_ASSIGN_OR_RETURN(registration_,
                           Retry(std::chrono::minutes(2), [&] {
                             return client_.RegisterWorker(worker_id_, Hostname(), ranks_);
                           }));
    if (registration_.quarantined) {
      return absl::FailedPreconditionError(absl::StrCat(
          "worker ", worker_id_, " is quarantined by the coordinator (too many failures in a "
          "row): find the cause, then `istar workers release ", worker_id_, "`"));
    }
    std::cerr << "istar worker " << worker_id_ << ": registered, " << ranks_
              << " rank(s), lease " << registration_.lease_ttl.count() << " ms" << std::endl;
    return absl::OkStatus();
  }

  // What the group does next.
  Order Next(bool stop_requested, int64_t trials_ended) {
    if (stop_requested) return {.kind = OrderKind::kStop};
    if (options_.max_trials > 0 && trials_ended >= options_.max_trials) {
      return {.kind = OrderKind::kStop};
    }
    // One proposed lease id per request, kept for every try until one is answered: a try whose
    // answer was lost gets its lease again (Note [Lease ids a group proposes] in
    // db/internal/leases.cc).
    if (lease_id_.empty()) {
      absl::StatusOr<std::string> id = db::NewLeaseId();
      if (!id.ok()) return ErrorOrder(id.status());
      lease_id_ = *std::move(id);
    }
    std::chrono::milliseconds retry_after(500);
    const absl::StatusOr<std::optional<db::Lease>> lease =
        client_.LeaseTrial(worker_id_, ranks_, &retry_after, lease_id_);
    if (lease.ok()) lease_id_.clear();  // answered: the next request proposes a new id
    if (!lease.ok() && !IsTransient(lease.status())) return ErrorOrder(lease.status());
    if (lease.ok() && lease->has_value()) {
      idle_since_.reset();
      return {.kind = OrderKind::kTrain, .lease = **lease};
    }
    const auto now = std::chrono::steady_clock::now();
    if (!idle_since_.has_value()) idle_since_ = now;
    if (options_.exit_when_idle_for.count() > 0 &&
        now - *idle_since_ >= options_.exit_when_idle_for) {
      return {.kind = OrderKind::kStop};
    }
    if (!lease.ok()) retry_after = std::chrono::seconds(1);  // unreachable: try again soon
    return {.kind = OrderKind::kWait, .wait_ms = retry_after.count()};
  }

  // Ends the lease as the training ended: complete, fail or requeue; nothing for a lease that
  // was cancelled or lost.
  void Report(const Order& order, const absl::StatusOr<trainer::TrialResult>& result,
              internal::CoordinatorSink& sink, const internal::Heartbeater& heartbeat) {
    const std::string& trial = order.lease.trial_id;
    const int64_t token = order.lease.fencing_token;
    const std::string name = trial.substr(0, 12);
    if (heartbeat.cancelled() || heartbeat.lost()) {
      std::cerr << "istar worker: trial " << name << " "
                << (heartbeat.cancelled() ? "cancelled" : "lease lost") << ", dropped" << std::endl;
      return;
    }
    const std::chrono::milliseconds patience = this->patience();
    absl::Status reported;
    if (!result.ok()) {
      reported = Fail(trial, token,
                      {.error = std::string(result.status().message()),
                       .retryable = Retryable(result.status()),
                       .infrastructure = Retryable(result.status())},
                      patience);
    } else if (result->status == trainer::TrialOutcome::kDone) {
      reported = sink.Flush(patience);
      if (reported.ok()) {
        reported = Retry(patience, [&] {
          return client_.CompleteTrial(trial, token, sink.final_results());
        });
      }
    } else if (result->status == trainer::TrialOutcome::kFailed) {
      reported = sink.Flush(patience);
      if (reported.ok()) reported = Fail(trial, token, {.error = result->error}, patience);
    } else {  // stopped by a stop request: preemption
      reported = sink.Flush(patience);
      if (reported.ok()) {
        reported = Fail(trial, token,
                        {.error = "preempted: the worker group was asked to stop",
                         .requeue = true},
                        patience);
      }
    }
    // A refused token (FAILED_PRECONDITION) means the lease is over: the trial is dropped, as
    // when the heartbeat hears it first (docs/worker.md). A cut-off group that trains on often
    // learns it here: its rows or its end are refused once the link returns.
    std::string report_outcome;
    if (absl::IsFailedPrecondition(reported)) {
      report_outcome =
          absl::StrCat("; report refused: ", reported.message(), "; lease lost, dropped");
    } else if (!reported.ok()) {
      report_outcome = absl::StrCat("; report failed: ", reported.message());
    }
    std::cerr << "istar worker: trial " << name << " "
              << (result.ok() ? absl::StrCat(std::string(trainer::TrialOutcomeName(result->status)),
                                             " after ", result->steps, " steps, ", sink.rows_sent(),
                                             " rows sent")
                              : absl::StrCat("failed: ", result.status().message(), " (",
                                             sink.rows_sent(), " rows sent)"))
              << report_outcome << std::endl;
  }

  // A hung trial (Note [Hangs]): failed, retryable, with a few seconds to say so, since the
  // group is about to end itself.
  void ReportHang(const db::Lease& lease, int64_t step, double seconds) {
    const std::string error =
        absl::StrFormat("hung: no progress for %.0f s at step %d", seconds, step);
    const absl::Status reported =
        Fail(lease.trial_id, lease.fencing_token,
             {.error = error, .retryable = true, .infrastructure = true}, std::chrono::seconds(5));
    std::cerr << "istar worker: trial " << lease.trial_id.substr(0, 12) << " " << error
              << (reported.ok() ? "; failed it, ending the group"
                                : absl::StrCat("; could not report it (", reported.message(),
                                               "), ending the group"))
              << std::endl;
  }

  // How long a report (or a sync before a checkpoint) is retried while the coordinator is
  // unreachable: two leases' worth, at least 10 s.
  std::chrono::milliseconds patience() const {
    return std::max<std::chrono::milliseconds>(std::chrono::seconds(10),
                                               2 * registration_.lease_ttl);
  }

  const WorkerOptions& options() const { return options_; }
  coordinator::CoordinatorClient& client() { return client_; }
  std::chrono::milliseconds heartbeat_interval() const {
    return registration_.heartbeat_interval;
  }

 private:
  static std::string Hostname() {
    std::array<char, 256> host{};
    gethostname(host.data(), host.size() - 1);
    return host.data();
  }

  absl::Status Fail(const std::string& trial, int64_t token, const db::LeaseFailure& failure,
                    std::chrono::milliseconds patience) {
    return StatusOf(Retry(patience, [&] { return client_.FailTrial(trial, token, failure); }));
  }

  const WorkerOptions& options_;
  coordinator::CoordinatorClient& client_;
  const int ranks_;
  const std::string worker_id_;
  coordinator::WorkerRegistration registration_;
  std::optional<std::chrono::steady_clock::time_point> idle_since_;
  std::string lease_id_;  // the id proposed by the request not yet answered; empty: none
};

// The trial a lease carries: its canonical JSON (checked against its id) and the settings
// outside its identity (Note [A lease carries its trial] in db/internal/schema.cc). No rank
// reads or expands a sweep file.
absl::StatusOr<sweeps::TrialSpec> TrialOf(const db::Lease& lease) {
  ISTAR_ASSIGN_OR_RETURN(sweeps::TrialSpec trial,
                         sweeps::TrialFromCanonicalJson(lease.trial_id, lease.canonical_json));
  trial.training.ranks_per_trial = lease.ranks_per_trial;
  trial.training.gradient_accumulation_steps = lease.gradient_accumulation_steps;
  return trial;
}

}  // namespace

absl::Status RunWorker(const WorkerOptions& options, comm::Communicator& group,
                       coordinator::CoordinatorClient* client, const std::atomic<bool>& stop) {
  const bool leader = group.rank() == 0;
  if (leader && client == nullptr) {
    return absl::InvalidArgumentError("rank 0 of a worker group needs a coordinator client");
  }
  if (options.simulate_steps > 0 && group.size() != 1) {
    return absl::InvalidArgumentError("the null trainer (--simulate) runs groups of one rank");
  }
  if (options.hang_timeout.count() > 0 && !options.abort_group) {
    return absl::InvalidArgumentError("a hang_timeout needs an abort_group to end the group");
  }
  std::optional<Leader> rank0;
  absl::Status registered;
  if (leader) {
    rank0.emplace(options, *client, group.size());
    registered = rank0->Register();
  }
  ISTAR_RETURN_IF_ERROR(comm::AgreeOnStatus(group, registered));

  int64_t trials_ended = 0;
  while (true) {
    std::array<double, 1> stopping = {stop.load() ? 1.0 : 0.0};
    ISTAR_RETURN_IF_ERROR(group.AllReduceSum(std::span<double>(stopping)));
    std::string message;
    if (leader) message = Encode(rank0->Next(stopping[0] > 0, trials_ended));
    ISTAR_RETURN_IF_ERROR(BroadcastText(group, message));
    const Order order = Decode(message);
    if (order.kind == OrderKind::kStop) return absl::OkStatus();
    if (order.kind == OrderKind::kError) {
      return absl::Status(static_cast<absl::StatusCode>(order.error_code),
                          absl::StrCat("coordinator: ", order.error));
    }
    if (order.kind == OrderKind::kWait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(order.wait_ms));
      continue;
    }
    // Train. Every rank reads the same trial from the same sweep text.
    const absl::StatusOr<sweeps::TrialSpec> trial = TrialOf(order.lease);
    std::atomic<int64_t> steps_begun{0};  // the progress the watchdog and heartbeats follow
    std::optional<internal::Heartbeater> heartbeat;
    std::optional<internal::CoordinatorSink> sink;
    if (leader) {
      heartbeat.emplace(rank0->client(), order.lease.trial_id, order.lease.fencing_token,
                        rank0->heartbeat_interval(), &steps_begun);
      sink.emplace(rank0->client(), order.lease.trial_id, order.lease.fencing_token,
                   options.batch_rows, rank0->patience());
      std::cerr << "istar worker: trial " << order.lease.trial_id.substr(0, 12) << " attempt "
                << order.lease.attempt << " on " << group.size() << " rank(s)" << std::endl;
    }
    trainer::RunOptions run{.checkpoint_dir = options.checkpoint_dir,
                            .progress = options.progress && leader,
                            .float64 = options.float64,
                            .device = options.device,
                            .group = &group,
                            .tensor_group = options.tensor_group};
    // Note [Hangs]
    // A collective that never returns (a rank stopped or dead, a NIC or GPU fault) blocks every
    // other rank inside it, while rank 0's heartbeat thread would keep the lease alive forever.
    // So every rank watches its own progress: should_stop is polled before each step. Rank 0,
    // after hang_timeout without a step, fails the trial (retryable: another group retries it
    // from its last checkpoint) and ends the job; the other ranks wait a few seconds longer, so
    // that a live rank 0 reports first, then end the job themselves (rank 0 may be the one that
    // is stopped; its lease then expires).
    std::optional<internal::HangWatchdog> watchdog;
    if (options.hang_timeout.count() > 0) {
      const std::chrono::milliseconds grace =
          leader ? std::chrono::milliseconds(0)
                 : std::max<std::chrono::milliseconds>(std::chrono::seconds(3),
                                                       options.hang_timeout / 4);
      watchdog.emplace(options.hang_timeout + grace,
                       [&, lease = order.lease](int64_t step, double seconds) {
                         if (leader) {
                           rank0->ReportHang(lease, step, seconds);
                         } else {
                           std::cerr << "istar worker: rank " << group.rank()
                                     << ": no progress for " << static_cast<int64_t>(seconds)
                                     << " s at step " << step << ", ending the group" << std::endl;
                         }
                         options.abort_group();
                       });
    }
    run.should_stop = [&] {
      const int64_t step = steps_begun.fetch_add(1);
      if (watchdog.has_value()) watchdog->Progress(step);
      return stop.load() || (heartbeat.has_value() && (heartbeat->cancelled() || heartbeat->lost()));
    };
    // A preempted group keeps its progress for the next attempt; a cancelled trial needs none,
    // and a lost lease's folder may already be another group's (Note [Preemption checkpoints]).
    run.checkpoint_on_stop = [&] {
      return heartbeat.has_value() && !heartbeat->cancelled() && !heartbeat->lost();
    };
    const absl::StatusOr<trainer::TrialResult> result =
        !trial.ok() ? absl::StatusOr<trainer::TrialResult>(trial.status())
        : options.simulate_steps > 0
            ? internal::SimulateTrial(
                  *trial,
                  {.steps = options.simulate_steps, .step_time = options.simulate_step_time},
                  run.should_stop, *sink)
            : trainer::TrainTrial(*trial, run, leader ? &*sink : nullptr);
    watchdog.reset();  // the training is over; reporting it has its own deadlines
    // An error of this rank alone leaves the others in a collective: the caller ends the job.
    // (A lease whose trial does not read is every rank's error: they all read the same text.)
    const bool shared = !trial.ok() || group.size() == 1 || comm::IsAgreed(result.status());
    if (!result.ok() && !shared) return result.status();
    if (leader) rank0->Report(order, result, *sink, *heartbeat);
    ++trials_ended;
  }
}

}  // namespace istar::worker
