// CoordinatorClient over a gRPC channel (coordinator/client.h).
#include "coordinator/client.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "coordinator/internal/auth.h"
#include "coordinator/internal/proto_convert.h"
#include "istar/v1/coordinator.grpc.pb.h"

namespace istar::coordinator {
namespace {

using internal::FromGrpc;
using internal::FromProto;
using internal::KnownState;
using internal::ToProto;

class GrpcClient final : public CoordinatorClient {
 public:
  GrpcClient(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), stub_(v1::Coordinator::NewStub(std::move(channel))) {}

  absl::StatusOr<WorkerRegistration> RegisterWorker(const std::string& worker_id,
                                                    const std::string& host, int ranks) override {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(worker_id);
    request.set_host(host);
    request.set_ranks(ranks);
    v1::RegisterWorkerResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->RegisterWorker(context.get(), request, &response)));
    return WorkerRegistration{
        .lease_ttl = std::chrono::milliseconds(response.lease_ttl_ms()),
        .heartbeat_interval = std::chrono::milliseconds(response.heartbeat_interval_ms()),
        .quarantined = response.quarantined()};
  }

  absl::StatusOr<std::optional<db::Lease>> LeaseTrial(const std::string& worker_id, int ranks,
                                                      std::chrono::milliseconds* retry_after,
                                                      const std::string& lease_id) override {
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker_id);
    request.set_ranks(ranks);
    request.set_lease_id(lease_id);
    request.set_without_sweep_yaml(true);
    v1::LeaseTrialResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->LeaseTrial(context.get(), request, &response)));
    if (!response.has_lease()) {
      if (retry_after != nullptr) {
        *retry_after = std::chrono::milliseconds(response.retry_after_ms());
      }
      return std::optional<db::Lease>();
    }
    if (response.lease().gradient_accumulation_steps() < 1) {
      // Its lease still holds: it expires and goes to another group.
      return absl::FailedPreconditionError(
          "the coordinator is older than this istar (its lease carries no "
          "gradient_accumulation_steps): use an istar of the coordinator's version");
    }
    return std::optional<db::Lease>(FromProto(response.lease()));
  }

  absl::StatusOr<db::LeaseState> Heartbeat(const std::string& trial_id, int64_t fencing_token,
                                           std::optional<int64_t> steps_begun) override {
    v1::HeartbeatRequest request;
    request.set_trial_id(trial_id);
    request.set_fencing_token(fencing_token);
    if (steps_begun.has_value()) {
      request.set_has_progress(true);
      request.set_steps_begun(*steps_begun);
    }
    v1::HeartbeatResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->Heartbeat(context.get(), request, &response)));
    return response.cancel() ? db::LeaseState::kCancelled : db::LeaseState::kActive;
  }

  absl::Status ReportMetrics(const std::string& trial_id, int64_t fencing_token,
                             std::span<const db::MetricRow> metrics,
                             std::span<const db::IsotropyRow> isotropy,
                             int64_t batch_rows) override {
    batch_rows = std::max<int64_t>(1, batch_rows);
    v1::ReportMetricsResponse response;
    auto context = Context();
    std::unique_ptr<grpc::ClientWriter<v1::MetricBatch>> writer =
        stub_->ReportMetrics(context.get(), &response);
    size_t m = 0;
    size_t i = 0;
    int64_t written = 0;
    do {
      v1::MetricBatch batch;
      batch.set_trial_id(trial_id);
      batch.set_fencing_token(fencing_token);
      for (int64_t n = 0; n < batch_rows && m < metrics.size(); ++n) {
        ToProto(metrics[m++], batch.add_metrics());
      }
      for (int64_t n = batch.metrics_size(); n < batch_rows && i < isotropy.size(); ++n) {
        ToProto(isotropy[i++], batch.add_isotropy());
      }
      if (!writer->Write(batch)) break;  // the server ended the stream; Finish says why
      ++written;
    } while (m < metrics.size() || i < isotropy.size());
    writer->WritesDone();
    ISTAR_RETURN_IF_ERROR(FromGrpc(writer->Finish()));
    // Note [Batches the server could not read]: a server that cannot parse a message of a client
    // stream sees the stream end there, so it answers OK for the batches before it and the rest
    // are silently lost. Its count of stored batches is the only sign (found by
    // fuzz/coordinator_fuzzer.cc with a metric name that is not UTF-8, which protobuf serializes
    // with a logged error but will not parse).
    if (response.batches() != written) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trial ", trial_id.substr(0, 12), ": the coordinator stored ", response.batches(), " of ",
          written, " metric batches; batch ", response.batches() + 1,
          " could not be read (are its split and metric names UTF-8?) and nothing after it was "
          "stored"));
    }
    return absl::OkStatus();
  }

  absl::Status CompleteTrial(const std::string& trial_id, int64_t fencing_token,
                             std::span<const db::FinalResult> results) override {
    v1::CompleteTrialRequest request;
    request.set_trial_id(trial_id);
    request.set_fencing_token(fencing_token);
    for (const db::FinalResult& r : results) ToProto(r, request.add_results());
    v1::CompleteTrialResponse response;
    auto context = Context();
    return FromGrpc(stub_->CompleteTrial(context.get(), request, &response));
  }

  absl::StatusOr<db::TrialStatus> FailTrial(const std::string& trial_id, int64_t fencing_token,
                                            const db::LeaseFailure& failure) override {
    v1::FailTrialRequest request;
    request.set_trial_id(trial_id);
    request.set_fencing_token(fencing_token);
    request.set_reason(failure.error);
    request.set_retryable(failure.retryable);
    request.set_infrastructure(failure.infrastructure);
    request.set_requeue(failure.requeue);
    v1::FailTrialResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->FailTrial(context.get(), request, &response)));
    return KnownState(response.state());
  }

  absl::StatusOr<SubmittedSweep> SubmitSweep(const std::string& yaml,
                                             const std::string& source_name) override {
    v1::SubmitSweepRequest request;
    request.set_yaml(yaml);
    request.set_source_name(source_name);
    v1::SubmitSweepResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->SubmitSweep(context.get(), request, &response)));
    return SubmittedSweep{.sweep_id = response.sweep_id(),
                          .trial_count = response.trial_count(),
                          .new_trials = response.new_trials()};
  }

  absl::StatusOr<db::SweepProgress> GetSweep(const std::string& sweep) override {
    v1::GetSweepRequest request;
    request.set_sweep(sweep);
    v1::GetSweepResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->GetSweep(context.get(), request, &response)));
    return FromProto(response);
  }

  absl::StatusOr<std::vector<db::TrialRecord>> ListTrials(
      const std::string& sweep, std::span<const db::TrialStatus> statuses) override {
    v1::ListTrialsRequest request;
    request.set_sweep(sweep);
    for (db::TrialStatus status : statuses) request.add_states(ToProto(status));
    v1::ListTrialsResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->ListTrials(context.get(), request, &response)));
    std::vector<db::TrialRecord> trials;
    for (const v1::TrialSummary& t : response.trials()) {
      ISTAR_ASSIGN_OR_RETURN(db::TrialRecord trial, FromProto(t));
      trials.push_back(std::move(trial));
    }
    return trials;
  }

  absl::StatusOr<int64_t> CancelSweep(const std::string& sweep) override {
    v1::CancelSweepRequest request;
    request.set_sweep(sweep);
    v1::CancelSweepResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(FromGrpc(stub_->CancelSweep(context.get(), request, &response)));
    return response.cancelled();
  }

  absl::StatusOr<std::vector<db::WorkerRecord>> ListWorkers() override {
    v1::ListWorkersResponse response;
    auto context = Context();
    ISTAR_RETURN_IF_ERROR(
        FromGrpc(stub_->ListWorkers(context.get(), v1::ListWorkersRequest(), &response)));
    std::vector<db::WorkerRecord> workers;
    for (const v1::Worker& w : response.workers()) {
      workers.push_back({.id = w.worker_id(),
                         .host = w.host(),
                         .registered_at = Timestamp(std::chrono::milliseconds(w.registered_at_ms())),
                         .last_seen_at = Timestamp(std::chrono::milliseconds(w.last_seen_at_ms())),
                         .consecutive_failures = w.consecutive_failures(),
                         .quarantined = w.quarantined()});
    }
    return workers;
  }

  absl::Status ReleaseWorker(const std::string& worker_id) override {
    v1::ReleaseWorkerRequest request;
    request.set_worker_id(worker_id);
    v1::ReleaseWorkerResponse response;
    auto context = Context();
    return FromGrpc(stub_->ReleaseWorker(context.get(), request, &response));
  }

  absl::Status WatchSweep(const std::string& sweep,
                          const std::function<void(const TrialEvent&)>& on_event) override {
    v1::WatchSweepRequest request;
    request.set_sweep(sweep);
    auto context = Context(/*with_deadline=*/false);
    std::unique_ptr<grpc::ClientReader<v1::TrialEvent>> reader =
        stub_->WatchSweep(context.get(), request);
    v1::TrialEvent event;
    while (reader->Read(&event)) {
      absl::StatusOr<TrialEvent> known = FromProto(event);
      if (!known.ok()) {
        context->TryCancel();  // the rest of the stream would be read in vain
        reader->Finish().IgnoreError();
        return known.status();
      }
      on_event(*known);
    }
    return FromGrpc(reader->Finish());
  }

 private:
  // Every call carries the token and, except streams that last a sweep, a deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata(internal::kAuthorizationKey,
                         absl::StrCat(internal::kBearerPrefix, options_.token));
    if (with_deadline) context->set_deadline(std::chrono::system_clock::now() + options_.deadline);
    return context;
  }

  const ClientOptions options_;
  const std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Connect(
    const ClientOptions& options) {
  if (options.address.empty()) return absl::InvalidArgumentError("coordinator address: required");
  if (options.token.empty()) return absl::InvalidArgumentError("coordinator token: required");
  ISTAR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                         internal::ChannelCredentials(options.tls));
  grpc::ChannelArguments arguments;
  if (!options.tls.server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls.server_name);
  }
  // Note [Reconnecting quickly]: gRPC backs off between attempts to reconnect a broken channel,
  // by default up to 120 s, and fails calls at once meanwhile. Worker groups retry their calls
  // with their own backoff (at most 5 s), so a coordinator back after a restart must be reached
  // at their next try, not minutes later when the leases have run out.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Metric batches and sweep listings can be large; the server enforces its own limit.
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);
  return std::unique_ptr<CoordinatorClient>(std::make_unique<GrpcClient>(
      options, grpc::CreateCustomChannel(options.address, credentials, arguments)));
}

}  // namespace istar::coordinator
