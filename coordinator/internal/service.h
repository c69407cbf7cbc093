// The istar.v1.Coordinator service over the results store (synchronous gRPC API).
#ifndef ISTAR_COORDINATOR_INTERNAL_SERVICE_H_
#define ISTAR_COORDINATOR_INTERNAL_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "coordinator/coordinator.h"
#include "coordinator/internal/auth.h"
#include "db/store.h"
#include "istar/v1/coordinator.grpc.pb.h"

namespace istar::coordinator::internal {

// Every handler checks the token first, then its request's fields (InvalidArgument naming the
// field), then calls the store; the store's Status becomes the call's (ToGrpc).
// Thread safety: handlers run on gRPC's threads; the store serializes its writes.
class Service final : public v1::Coordinator::Service {
 public:
  // `store` and `options` must outlive the service. `stopping` tells streaming calls to end.
  Service(db::Store& store, const CoordinatorOptions& options, const std::atomic<bool>& stopping);

  grpc::Status RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status LeaseTrial(grpc::ServerContext* context, const v1::LeaseTrialRequest* request,
                          v1::LeaseTrialResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ReportMetrics(grpc::ServerContext* context,
                             grpc::ServerReader<v1::MetricBatch>* reader,
                             v1::ReportMetricsResponse* response) override;
  grpc::Status CompleteTrial(grpc::ServerContext* context, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse* response) override;
  grpc::Status FailTrial(grpc::ServerContext* context, const v1::FailTrialRequest* request,
                         v1::FailTrialResponse* response) override;
  grpc::Status SubmitSweep(grpc::ServerContext* context, const v1::SubmitSweepRequest* request,
                           v1::SubmitSweepResponse* response) override;
  grpc::Status GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                        v1::GetSweepResponse* response) override;
  grpc::Status ListTrials(grpc::ServerContext* context, const v1::ListTrialsRequest* request,
                          v1::ListTrialsResponse* response) override;
  grpc::Status CancelSweep(grpc::ServerContext* context, const v1::CancelSweepRequest* request,
                           v1::CancelSweepResponse* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status ReleaseWorker(grpc::ServerContext* context,
                             const v1::ReleaseWorkerRequest* request,
                             v1::ReleaseWorkerResponse* response) override;
  grpc::Status WatchSweep(grpc::ServerContext* context, const v1::WatchSweepRequest* request,
                          grpc::ServerWriter<v1::TrialEvent>* writer) override;

 private:
  // Runs `handler` after the token check, turning its Status into the call's.
  grpc::Status Handle(grpc::ServerContext* context, const std::function<absl::Status()>& handler);

  // `status` (a store's ResourceExhausted: SQLite found the disk full) as UNAVAILABLE, told to
  // options_.log at most once per kDiskFullReportInterval (Note [A full disk at the coordinator]).
  absl::Status DiskFull(const absl::Status& status);

  // Drops the hang check's record of `trial_id` (its lease ended).
  void ForgetProgress(const std::string& trial_id);

  // OK, or the lease failed as hung (FailedPrecondition) when `request` reports the same
  // progress as this lease's heartbeats have for longer than options_.hang_timeout.
  absl::Status CheckProgress(const v1::HeartbeatRequest& request);

  db::Store& store_;
  const CoordinatorOptions& options_;
  const std::atomic<bool>& stopping_;
  const TokenChecker tokens_;
  // The progress each live lease last reported, and since when (trial id -> fencing token,
  // steps, time); in memory: a restarted coordinator gives every lease a fresh hang timeout.
  struct LeaseProgress {
    int64_t fencing_token = 0;
    int64_t steps = 0;
    Timestamp since;
  };
  static constexpr std::chrono::seconds kDiskFullReportInterval{30};
  absl::Mutex disk_full_mu_;
  int64_t disk_full_calls_ ABSL_GUARDED_BY(disk_full_mu_) = 0;
  std::optional<Timestamp> last_disk_full_report_ ABSL_GUARDED_BY(disk_full_mu_);

  absl::Mutex progress_mu_;
  std::map<std::string, LeaseProgress> progress_ ABSL_GUARDED_BY(progress_mu_);
};

}  // namespace istar::coordinator::internal

#endif  // ISTAR_COORDINATOR_INTERNAL_SERVICE_H_
