#include "coordinator/internal/proto_convert.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "catalog/catalog.h"

namespace istar::coordinator::internal {

// Note [Status message length]: gRPC sends a status message as a header, percent-encoded (up to
// three bytes a byte), and a client refuses headers over its metadata limit (8 KiB by default):
// the caller then gets RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" instead
// of the code and the message. Messages quote what the caller sent (a sweep file's value, its
// source name), so a long one is cut here, at a UTF-8 character boundary.
constexpr size_t kMaxStatusMessage = 1024;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  if (message.size() > kMaxStatusMessage) {
    const size_t total = message.size();
    size_t cut = kMaxStatusMessage;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xc0) == 0x80) --cut;
    message.resize(cut);
    message += absl::StrCat("... (", total - cut, " more bytes)");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int64_t ToMillis(Timestamp time) { return time.time_since_epoch().count(); }
Timestamp FromMillis(int64_t millis) { return Timestamp(std::chrono::milliseconds(millis)); }

v1::TrialState ToProto(db::TrialStatus status) {
  switch (status) {
    case db::TrialStatus::kPending:
      return v1::TRIAL_STATE_PENDING;
    case db::TrialStatus::kLeased:
      return v1::TRIAL_STATE_LEASED;
    case db::TrialStatus::kRunning:
      return v1::TRIAL_STATE_RUNNING;
    case db::TrialStatus::kDone:
      return v1::TRIAL_STATE_DONE;
    case db::TrialStatus::kFailed:
      return v1::TRIAL_STATE_FAILED;
    case db::TrialStatus::kCancelled:
      return v1::TRIAL_STATE_CANCELLED;
  }
  return v1::TRIAL_STATE_UNSPECIFIED;
}

std::optional<db::TrialStatus> FromProto(v1::TrialState state) {
  switch (state) {
    case v1::TRIAL_STATE_PENDING:
      return db::TrialStatus::kPending;
    case v1::TRIAL_STATE_LEASED:
      return db::TrialStatus::kLeased;
    case v1::TRIAL_STATE_RUNNING:
      return db::TrialStatus::kRunning;
    case v1::TRIAL_STATE_DONE:
      return db::TrialStatus::kDone;
    case v1::TRIAL_STATE_FAILED:
      return db::TrialStatus::kFailed;
    case v1::TRIAL_STATE_CANCELLED:
      return db::TrialStatus::kCancelled;
    default:
      return std::nullopt;
  }
}

void ToProto(const db::Lease& lease, v1::TrialLease* out) {
  out->set_trial_id(lease.trial_id);
  out->set_canonical_json(lease.canonical_json);
  out->set_sweep_yaml(lease.sweep_yaml);
  out->set_attempt(lease.attempt);
  out->set_lease_id(lease.lease_id);
  out->set_fencing_token(lease.fencing_token);
  out->set_expires_at_ms(ToMillis(lease.expires_at));
  out->set_ranks_per_trial(lease.ranks_per_trial);
  out->set_gradient_accumulation_steps(lease.gradient_accumulation_steps);
}

db::Lease FromProto(const v1::TrialLease& lease) {
  return db::Lease{.trial_id = lease.trial_id(),
                   .canonical_json = lease.canonical_json(),
                   .ranks_per_trial = lease.ranks_per_trial(),
                   .gradient_accumulation_steps = lease.gradient_accumulation_steps(),
                   .sweep_yaml = lease.sweep_yaml(),
                   .attempt = lease.attempt(),
                   .lease_id = lease.lease_id(),
                   .fencing_token = lease.fencing_token(),
                   .expires_at = FromMillis(lease.expires_at_ms())};
}

void ToProto(const db::MetricRow& row, v1::Metric* out) {
  out->set_step(row.step);
  out->set_epoch(row.epoch);
  out->set_split(row.split);
  out->set_name(row.name);
  out->set_value(row.value);
}

db::MetricRow FromProto(const std::string& trial_id, const v1::Metric& metric) {
  return db::MetricRow{.trial_id = trial_id,
                       .step = metric.step(),
                       .epoch = metric.epoch(),
                       .split = metric.split(),
                       .name = metric.name(),
                       .value = metric.value()};
}

void ToProto(const db::IsotropyRow& row, v1::IsotropyMeasure* out) {
  out->set_step(row.step);
  out->set_epoch(row.epoch);
  out->set_layer(row.layer);
  out->set_isoscore_star(row.isoscore_star);
  out->set_isoscore(row.isoscore);
  out->set_avg_cosine(row.avg_cosine);
}

db::IsotropyRow FromProto(const std::string& trial_id, const v1::IsotropyMeasure& measure) {
  return db::IsotropyRow{.trial_id = trial_id,
                         .step = measure.step(),
                         .epoch = measure.epoch(),
                         .layer = measure.layer(),
                         .isoscore_star = measure.isoscore_star(),
                         .isoscore = measure.isoscore(),
                         .avg_cosine = measure.avg_cosine()};
}

void ToProto(const db::FinalResult& result, v1::FinalResult* out) {
  out->set_split(result.split);
  out->set_name(result.name);
  out->set_value(result.value);
}

db::FinalResult FromProto(const v1::FinalResult& result) {
  return db::FinalResult{.split = result.split(), .name = result.name(), .value = result.value()};
}

void ToProto(const db::TrialRecord& trial, v1::TrialSummary* out) {
  out->set_trial_id(trial.id);
  out->set_state(ToProto(trial.status));
  out->set_model(trial.model);
  out->set_task(trial.task);
  out->set_regularizer(trial.regularizer);
  out->set_lambda(trial.lambda);
  out->set_zeta(trial.zeta);
  out->set_seed(trial.seed);
  out->set_attempts(trial.attempts);
  out->set_worker_id(trial.worker_id.value_or(""));
  out->set_error(trial.error.value_or(""));
  out->set_learning_rate(trial.learning_rate);
  out->set_batch_size(trial.batch_size);
  out->set_epochs(trial.epochs);
  for (const auto& [name, value] : trial.parameters) (*out->mutable_parameters())[name] = value;
}

// Note [Unknown names on the wire]: a coordinator newer than its client may answer with a trial
// state or a regularizer the client's build does not know. Taking it for a default (a pending
// trial, the baseline) would show the user something false, so the answer is refused with a
// message that names the value and says what to do.
namespace {

absl::Status Unknown(const std::string& what) {
  return absl::FailedPreconditionError(
      absl::StrCat("the coordinator answered ", what,
                   ", which this istar does not know: use an istar of the coordinator's version"));
}

}  // namespace

absl::StatusOr<db::TrialStatus> KnownState(v1::TrialState state) {
  if (std::optional<db::TrialStatus> status = FromProto(state)) return *status;
  return Unknown(absl::StrCat("trial state ", static_cast<int>(state)));
}

absl::StatusOr<db::TrialRecord> FromProto(const v1::TrialSummary& summary) {
  db::TrialRecord trial;
  trial.id = summary.trial_id();
  ISTAR_ASSIGN_OR_RETURN(trial.status, KnownState(summary.state()));
  trial.model = summary.model();
  trial.task = summary.task();
  if (catalog::FindRegularizer(summary.regularizer()) == nullptr) {
    return Unknown(absl::StrCat("regularizer \"", summary.regularizer(), "\" for trial ",
                                summary.trial_id().substr(0, 12)));
  }
  trial.regularizer = summary.regularizer();
  trial.lambda = summary.lambda();
  trial.zeta = summary.zeta();
  trial.seed = summary.seed();
  trial.attempts = summary.attempts();
  if (!summary.worker_id().empty()) trial.worker_id = summary.worker_id();
  if (!summary.error().empty()) trial.error = summary.error();
  trial.learning_rate = summary.learning_rate();
  trial.batch_size = summary.batch_size();
  trial.epochs = summary.epochs();
  trial.parameters.insert(summary.parameters().begin(), summary.parameters().end());
  return trial;
}

void ToProto(const db::SweepProgress& progress, v1::GetSweepResponse* out) {
  out->set_sweep_id(progress.id);
  out->set_name(progress.name);
  out->set_trial_count(progress.trial_count);
  out->set_submitted_at_ms(ToMillis(progress.submitted_at));
  for (const auto& [status, count] : progress.by_status) {
    v1::StateCount* c = out->add_counts();
    c->set_state(ToProto(status));
    c->set_count(count);
  }
}

absl::StatusOr<db::SweepProgress> FromProto(const v1::GetSweepResponse& response) {
  db::SweepProgress progress{.id = response.sweep_id(),
                             .name = response.name(),
                             .submitted_at = FromMillis(response.submitted_at_ms()),
                             .trial_count = response.trial_count()};
  for (const v1::StateCount& c : response.counts()) {
    ISTAR_ASSIGN_OR_RETURN(const db::TrialStatus status, KnownState(c.state()));
    progress.by_status[status] = c.count();
  }
  return progress;
}

absl::StatusOr<TrialEvent> FromProto(const v1::TrialEvent& event) {
  ISTAR_ASSIGN_OR_RETURN(const db::TrialStatus status, KnownState(event.state()));
  return TrialEvent{.trial_id = event.trial_id(),
                    .status = status,
                    .attempts = event.attempts(),
                    .worker_id = event.worker_id(),
                    .error = event.error(),
                    .done = event.done(),
                    .trial_count = event.trial_count()};
}

}  // namespace istar::coordinator::internal
