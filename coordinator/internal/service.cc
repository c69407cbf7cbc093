#include "coordinator/internal/service.h"

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "coordinator/internal/proto_convert.h"
#include "sweeps/sweep.h"

namespace istar::coordinator::internal {
namespace {

// Limits on identifiers a client chooses: enough for any real name, small enough that a
// malicious one cannot bloat the database.
constexpr size_t kMaxIdLength = 200;

absl::Status CheckWorkerId(const std::string& worker_id) {
  if (worker_id.empty() || worker_id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker_id: must have 1 to ", kMaxIdLength, " characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckRanks(int ranks) {
  if (ranks < 1) return absl::InvalidArgumentError(absl::StrCat("ranks: must be >= 1, got ", ranks));
  return absl::OkStatus();
}

absl::Status CheckLease(const std::string& trial_id, int64_t fencing_token) {
  const bool hex = std::all_of(trial_id.begin(), trial_id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (trial_id.size() != 64 || !hex) {
    return absl::InvalidArgumentError("trial_id: must be 64 lower-case hex digits");
  }
  if (fencing_token < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("fencing_token: must be >= 1, got ", fencing_token));
  }
  return absl::OkStatus();
}

absl::Status CheckSweep(const std::string& sweep) {
  if (sweep.empty() || sweep.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep: must name a sweep (1 to ", kMaxIdLength, " characters)"));
  }
  return absl::OkStatus();
}

}  // namespace

Service::Service(db::Store& store, const CoordinatorOptions& options,
                 const std::atomic<bool>& stopping)
    : store_(store), options_(options), stopping_(stopping), tokens_(options.token) {}

grpc::Status Service::Handle(grpc::ServerContext* context,
                             const std::function<absl::Status()>& handler) {
  const absl::Status authenticated = tokens_.Check(*context);
  if (!authenticated.ok()) return ToGrpc(authenticated);
  absl::Status status = handler();
  if (absl::IsResourceExhausted(status)) status = DiskFull(status);
  return ToGrpc(status);
}

// Note [A full disk at the coordinator]: the store says ResourceExhausted when SQLite cannot
// write the database (SQLITE_FULL: its disk is full). Nothing the caller sent is wrong, and the
// call will succeed once someone frees space, so the caller is told UNAVAILABLE, the code that
// worker groups and the client retry, exactly as when the coordinator is down: a group keeps
// its rows buffered and trains on, and a lease that runs out meanwhile is retried as after an
// outage. SQLite rolls back the transaction that failed, so nothing already stored is lost. The
// person running the coordinator is told on its log, once per kDiskFullReportInterval.
absl::Status Service::DiskFull(const absl::Status& status) {
  const Clock& clock = options_.clock != nullptr ? *options_.clock : SystemClock();
  const Timestamp now = clock.Now();
  std::string line;
  {
    absl::MutexLock lock(&disk_full_mu_);
    ++disk_full_calls_;
    if (!last_disk_full_report_.has_value() ||
        now - *last_disk_full_report_ >= kDiskFullReportInterval) {
      line = absl::StrCat("cannot write the database ", options_.db_path, " (", status.message(),
                          "): its disk is full; ", disk_full_calls_,
                          " call(s) answered UNAVAILABLE so far, which clients retry; free space "
                          "on that disk and they carry on");
      last_disk_full_report_ = now;
    }
  }
  if (!line.empty() && options_.log) options_.log(line);
  return absl::UnavailableError(absl::StrCat(
      "the coordinator cannot write its database (its disk is full): ", status.message(),
      "; retry later"));
}

grpc::Status Service::RegisterWorker(grpc::ServerContext* context,
                                     const v1::RegisterWorkerRequest* request,
                                     v1::RegisterWorkerResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckWorkerId(request->worker_id()));
    ISTAR_RETURN_IF_ERROR(CheckRanks(request->ranks()));
    if (request->host().size() > kMaxIdLength) {
      return absl::InvalidArgumentError("host: longer than 200 characters");
    }
    ISTAR_ASSIGN_OR_RETURN(const db::WorkerRecord worker,
                           store_.RegisterWorker(request->worker_id(), request->host()));
    response->set_lease_ttl_ms(options_.lease.ttl.count());
    // Three heartbeats per lease: one lost call does not lose the lease.
    response->set_heartbeat_interval_ms(std::max<int64_t>(1, options_.lease.ttl.count() / 3));
    response->set_quarantined(worker.quarantined);
    return absl::OkStatus();
  });
}

grpc::Status Service::LeaseTrial(grpc::ServerContext* context,
                                 const v1::LeaseTrialRequest* request,
                                 v1::LeaseTrialResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckWorkerId(request->worker_id()));
    ISTAR_RETURN_IF_ERROR(CheckRanks(request->ranks()));
    ISTAR_ASSIGN_OR_RETURN(const std::optional<db::Lease> lease,
                           store_.LeaseTrial(request->worker_id(), request->ranks(), options_.lease,
                                             request->lease_id()));
    if (lease.has_value()) {
      ToProto(*lease, response->mutable_lease());
      // A client that reads the trial from canonical_json needs no sweep file.
      if (request->without_sweep_yaml()) response->mutable_lease()->clear_sweep_yaml();
    } else {
      response->set_retry_after_ms(std::max<int64_t>(100, options_.lease.ttl.count() / 10));
    }
    return absl::OkStatus();
  });
}

grpc::Status Service::Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                                v1::HeartbeatResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckLease(request->trial_id(), request->fencing_token()));
    // The store first: a stale token is refused there, before its progress could be taken for
    // the current lease's (Note [Progress of the current lease only]).
    ISTAR_ASSIGN_OR_RETURN(
        const db::LeaseState state,
        store_.Heartbeat(request->trial_id(), request->fencing_token(), options_.lease));
    if (state == db::LeaseState::kActive) {
      ISTAR_RETURN_IF_ERROR(CheckProgress(*request));
    } else {
      ForgetProgress(request->trial_id());
    }
    response->set_cancel(state == db::LeaseState::kCancelled);
    if (state == db::LeaseState::kActive) {
      const Clock& clock = options_.clock != nullptr ? *options_.clock : SystemClock();
      response->set_expires_at_ms(ToMillis(clock.Now() + options_.lease.ttl));
    }
    return absl::OkStatus();
  });
}

// Note [Progress of the current lease only]: the hang check keeps one record per trial, the
// progress its lease last reported and since when. Only heartbeats the store has accepted (the
// current lease's fencing token) may touch it: a heartbeat from a group that lost the lease used
// to reset the record, so an old holder still heartbeating hid the new holder's hang. A record is
// dropped when its lease ends here (complete, fail, cancel); an expired lease's stays until the
// trial's next lease replaces it, so the map holds at most one record per trial.
void Service::ForgetProgress(const std::string& trial_id) {
  absl::MutexLock lock(&progress_mu_);
  progress_.erase(trial_id);
}

absl::Status Service::CheckProgress(const v1::HeartbeatRequest& request) {
  if (options_.hang_timeout.count() <= 0 || !request.has_progress()) return absl::OkStatus();
  const Clock& clock = options_.clock != nullptr ? *options_.clock : SystemClock();
  const Timestamp now = clock.Now();
  std::chrono::milliseconds still{0};
  {
    absl::MutexLock lock(&progress_mu_);
    LeaseProgress& last = progress_[request.trial_id()];
    if (last.fencing_token != request.fencing_token() || last.steps != request.steps_begun()) {
      last = {
          .fencing_token = request.fencing_token(), .steps = request.steps_begun(), .since = now};
      return absl::OkStatus();
    }
    still = now - last.since;
    if (still <= options_.hang_timeout) return absl::OkStatus();
    progress_.erase(request.trial_id());
  }
  const std::string error =
      absl::StrFormat("hung: heartbeats reported no progress for %.0f s at step %d",
                      std::chrono::duration<double>(still).count(), request.steps_begun());
  ISTAR_RETURN_IF_ERROR(
      store_
          .FailLeasedTrial(request.trial_id(), request.fencing_token(),
                           {.error = error, .retryable = true, .infrastructure = true},
                           options_.lease)
          .status());
  return absl::FailedPreconditionError(absl::StrCat("trial ", request.trial_id().substr(0, 12),
                                                    ": lease ended by the coordinator: ", error));
}

grpc::Status Service::ReportMetrics(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::MetricBatch>* reader,
                                    v1::ReportMetricsResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    v1::MetricBatch batch;
    while (reader->Read(&batch)) {
      ISTAR_RETURN_IF_ERROR(CheckLease(batch.trial_id(), batch.fencing_token()));
      std::vector<db::MetricRow> metrics;
      metrics.reserve(batch.metrics_size());
      for (const v1::Metric& m : batch.metrics()) metrics.push_back(FromProto(batch.trial_id(), m));
      std::vector<db::IsotropyRow> isotropy;
      isotropy.reserve(batch.isotropy_size());
      for (const v1::IsotropyMeasure& m : batch.isotropy()) {
        isotropy.push_back(FromProto(batch.trial_id(), m));
      }
      ISTAR_RETURN_IF_ERROR(store_.WriteLeasedResults(batch.trial_id(), batch.fencing_token(),
                                                      metrics, isotropy));
      response->set_batches(response->batches() + 1);
      response->set_rows(response->rows() + static_cast<int64_t>(metrics.size() + isotropy.size()));
    }
    return absl::OkStatus();
  });
}

grpc::Status Service::CompleteTrial(grpc::ServerContext* context,
                                    const v1::CompleteTrialRequest* request,
                                    v1::CompleteTrialResponse*) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckLease(request->trial_id(), request->fencing_token()));
    std::vector<db::FinalResult> results;
    for (const v1::FinalResult& r : request->results()) results.push_back(FromProto(r));
    ISTAR_RETURN_IF_ERROR(
        store_.CompleteLeasedTrial(request->trial_id(), request->fencing_token(), results));
    ForgetProgress(request->trial_id());
    return absl::OkStatus();
  });
}

grpc::Status Service::FailTrial(grpc::ServerContext* context, const v1::FailTrialRequest* request,
                                v1::FailTrialResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckLease(request->trial_id(), request->fencing_token()));
    if (request->reason().empty()) return absl::InvalidArgumentError("reason: must say why");
    ISTAR_ASSIGN_OR_RETURN(const db::TrialStatus status,
                           store_.FailLeasedTrial(request->trial_id(), request->fencing_token(),
                                                  {.error = request->reason(),
                                                   .retryable = request->retryable(),
                                                   .infrastructure = request->infrastructure(),
                                                   .requeue = request->requeue()},
                                                  options_.lease));
    ForgetProgress(request->trial_id());
    response->set_state(ToProto(status));
    return absl::OkStatus();
  });
}

grpc::Status Service::SubmitSweep(grpc::ServerContext* context,
                                  const v1::SubmitSweepRequest* request,
                                  v1::SubmitSweepResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    if (request->yaml().empty()) return absl::InvalidArgumentError("yaml: the sweep file is empty");
    const std::string source =
        request->source_name().empty() ? std::string("sweep.yaml") : request->source_name();
    ISTAR_ASSIGN_OR_RETURN(const sweeps::SweepSpec sweep, sweeps::ParseSweep(request->yaml(), source));
    ISTAR_ASSIGN_OR_RETURN(const db::SubmitResult result, store_.SubmitSweep(sweep));
    response->set_sweep_id(result.sweep_id);
    response->set_trial_count(result.trials_total);
    response->set_new_trials(result.trials_added);
    return absl::OkStatus();
  });
}

grpc::Status Service::GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                               v1::GetSweepResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckSweep(request->sweep()));
    ISTAR_ASSIGN_OR_RETURN(const db::SweepProgress progress, store_.GetSweep(request->sweep()));
    ToProto(progress, response);
    return absl::OkStatus();
  });
}

grpc::Status Service::ListTrials(grpc::ServerContext* context,
                                 const v1::ListTrialsRequest* request,
                                 v1::ListTrialsResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckSweep(request->sweep()));
    db::TrialFilter filter{.sweeps = {request->sweep()}};
    for (int k = 0; k < request->states_size(); ++k) {
      const std::optional<db::TrialStatus> status = FromProto(request->states(k));
      if (!status.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("states[", k, "]: not a trial state"));
      }
      // Each state once: the store's query takes a parameter per value, and SQLite looks its
      // numbered parameters up one by one, so 60,000 repeats held the store for seconds.
      if (std::find(filter.statuses.begin(), filter.statuses.end(), *status) ==
          filter.statuses.end()) {
        filter.statuses.push_back(*status);
      }
    }
    ISTAR_ASSIGN_OR_RETURN(const std::vector<db::TrialRecord> trials, store_.ListTrials(filter));
    for (const db::TrialRecord& trial : trials) ToProto(trial, response->add_trials());
    return absl::OkStatus();
  });
}

grpc::Status Service::CancelSweep(grpc::ServerContext* context,
                                  const v1::CancelSweepRequest* request,
                                  v1::CancelSweepResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckSweep(request->sweep()));
    ISTAR_ASSIGN_OR_RETURN(const int64_t cancelled, store_.CancelSweep(request->sweep()));
    response->set_cancelled(cancelled);
    return absl::OkStatus();
  });
}

grpc::Status Service::ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest*,
                                  v1::ListWorkersResponse* response) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_ASSIGN_OR_RETURN(const std::vector<db::WorkerRecord> workers, store_.ListWorkers());
    for (const db::WorkerRecord& worker : workers) {
      v1::Worker* out = response->add_workers();
      out->set_worker_id(worker.id);
      out->set_host(worker.host);
      out->set_registered_at_ms(worker.registered_at.time_since_epoch().count());
      out->set_last_seen_at_ms(worker.last_seen_at.time_since_epoch().count());
      out->set_consecutive_failures(worker.consecutive_failures);
      out->set_quarantined(worker.quarantined);
    }
    return absl::OkStatus();
  });
}

grpc::Status Service::ReleaseWorker(grpc::ServerContext* context,
                                    const v1::ReleaseWorkerRequest* request,
                                    v1::ReleaseWorkerResponse*) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckWorkerId(request->worker_id()));
    return store_.ReleaseQuarantine(request->worker_id());
  });
}

// Note [Watching by polling]: the store is the single source of truth and is written by calls
// on other threads (and, after a restart, was written by another process), so WatchSweep
// re-reads the sweep's trials every watch_interval and sends what changed, rather than keeping
// an in-memory event bus that a restart would lose. A trial's (status, attempts) is its state
// for this purpose: a re-lease after an expiry is an event even though the status is the same.
grpc::Status Service::WatchSweep(grpc::ServerContext* context,
                                 const v1::WatchSweepRequest* request,
                                 grpc::ServerWriter<v1::TrialEvent>* writer) {
  return Handle(context, [&]() -> absl::Status {
    ISTAR_RETURN_IF_ERROR(CheckSweep(request->sweep()));
    std::map<std::string, std::tuple<db::TrialStatus, int64_t>> seen;
    while (true) {
      if (context->IsCancelled()) return absl::CancelledError("the client went away");
      if (stopping_.load()) return absl::UnavailableError("the coordinator is shutting down");
      ISTAR_ASSIGN_OR_RETURN(const std::vector<db::TrialRecord> trials,
                             store_.ListTrials({.sweeps = {request->sweep()}}));
      const auto finished = static_cast<int64_t>(
          std::count_if(trials.begin(), trials.end(),
                        [](const db::TrialRecord& t) { return db::IsFinished(t.status); }));
      for (const db::TrialRecord& trial : trials) {
        const std::tuple<db::TrialStatus, int64_t> now{trial.status, trial.attempts};
        const auto [last, first_time] = seen.try_emplace(trial.id, now);
        if (!first_time && last->second == now) continue;
        last->second = now;
        v1::TrialEvent event;
        event.set_trial_id(trial.id);
        event.set_state(ToProto(trial.status));
        event.set_attempts(trial.attempts);
        event.set_worker_id(trial.worker_id.value_or(""));
        event.set_error(trial.error.value_or(""));
        event.set_done(finished);
        event.set_trial_count(static_cast<int64_t>(trials.size()));
        if (!writer->Write(event)) return absl::CancelledError("the client went away");
      }
      if (finished == static_cast<int64_t>(trials.size())) return absl::OkStatus();
      std::this_thread::sleep_for(options_.watch_interval);
    }
  });
}

}  // namespace istar::coordinator::internal
