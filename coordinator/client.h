// File: coordinator/client.h
// -----------------------------------------------------------------------------
// The client side of the coordinator's API, in istar's own types (db/records.h): what worker
// groups (worker/) and the `istar sweep submit|status|cancel|watch` commands call. Every call has
// a deadline (ClientOptions::deadline); errors are the server's Status codes (the codes of gRPC
// and absl are the same): Unauthenticated for a wrong token, FailedPrecondition for a stale
// fencing token, Unavailable when the coordinator cannot be reached (retry with backoff),
// DeadlineExceeded when it did not answer in time.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(auto client, CoordinatorClient::Connect(
//       {.address = "127.0.0.1:50051", .token = token}));
//   ISTAR_ASSIGN_OR_RETURN(db::SweepProgress progress, client->GetSweep("paper"));
//
// Thread safety: a CoordinatorClient is thread-safe (a worker heartbeats from one thread while
// another reports metrics).
#ifndef ISTAR_COORDINATOR_CLIENT_H_
#define ISTAR_COORDINATOR_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/records.h"

namespace istar::coordinator {

// Certificates for TLS, as PEM file paths. ca_file empty: plaintext.
struct ClientTls {
  std::string ca_file;    // the CA that signed the server's certificate
  std::string cert_file;  // mutual TLS: this client's certificate chain
  std::string key_file;   // mutual TLS: its private key
  // The name to expect in the server's certificate, when it differs from the address's host.
  std::string server_name;
};

struct ClientOptions {
  std::string address;  // host:port
  std::string token;    // the coordinator's bearer token
  ClientTls tls;
  // Deadline of every call (a WatchSweep stream has none: it lasts as long as the sweep).
  std::chrono::milliseconds deadline{10'000};
};

// What RegisterWorker answers.
struct WorkerRegistration {
  std::chrono::milliseconds lease_ttl{0};
  std::chrono::milliseconds heartbeat_interval{0};
  bool quarantined = false;
};

// A sweep stored by SubmitSweep.
struct SubmittedSweep {
  std::string sweep_id;
  int64_t trial_count = 0;
  int64_t new_trials = 0;
};

// A change of one trial's state, as WatchSweep streams it.
struct TrialEvent {
  std::string trial_id;
  db::TrialStatus status = db::TrialStatus::kPending;
  int64_t attempts = 0;
  std::string worker_id;
  std::string error;
  int64_t done = 0;         // trials of the sweep finished so far
  int64_t trial_count = 0;  // trials in the sweep
};

class CoordinatorClient {
 public:
  // Makes a channel to `options.address` (it connects lazily, on the first call).
  // InvalidArgument for an empty address or token, NotFound / InvalidArgument for TLS files.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Connect(
      const ClientOptions& options);
  virtual ~CoordinatorClient() = default;

  // ---- Worker groups.
  [[nodiscard]] virtual absl::StatusOr<WorkerRegistration> RegisterWorker(
      const std::string& worker_id, const std::string& host, int ranks) = 0;
  // The next trial for a group of `ranks`, or nullopt with `retry_after` set when none is
  // pending. The lease carries the trial's canonical JSON and settings (read it with
  // sweeps::TrialFromCanonicalJson), not its sweep file: sweep_yaml is empty. FailedPrecondition
  // from a coordinator too old to send the settings. `lease_id`, when given, is the id the group
  // proposes for the lease (db::NewLeaseId), the same on every try of one request: a try whose
  // answer was lost is answered with the lease it got (db::Store::LeaseTrial).
  [[nodiscard]] virtual absl::StatusOr<std::optional<db::Lease>> LeaseTrial(
      const std::string& worker_id, int ranks, std::chrono::milliseconds* retry_after,
      const std::string& lease_id = "") = 0;
  // Extends the lease; `steps_begun` is the group's progress in this attempt (none: the
  // coordinator's hang check does not apply). FailedPrecondition when the lease has ended,
  // among others because it reported no progress for the coordinator's hang timeout.
  [[nodiscard]] virtual absl::StatusOr<db::LeaseState> Heartbeat(
      const std::string& trial_id, int64_t fencing_token,
      std::optional<int64_t> steps_begun = std::nullopt) = 0;
  // Sends the rows in batches of at most `batch_rows` over one stream.
  [[nodiscard]] virtual absl::Status ReportMetrics(const std::string& trial_id,
                                                   int64_t fencing_token,
                                                   std::span<const db::MetricRow> metrics,
                                                   std::span<const db::IsotropyRow> isotropy,
                                                   int64_t batch_rows = 10'000) = 0;
  [[nodiscard]] virtual absl::Status CompleteTrial(const std::string& trial_id,
                                                   int64_t fencing_token,
                                                   std::span<const db::FinalResult> results) = 0;
  [[nodiscard]] virtual absl::StatusOr<db::TrialStatus> FailTrial(
      const std::string& trial_id, int64_t fencing_token, const db::LeaseFailure& failure) = 0;

  // ---- Users.
  [[nodiscard]] virtual absl::StatusOr<SubmittedSweep> SubmitSweep(
      const std::string& yaml, const std::string& source_name) = 0;
  [[nodiscard]] virtual absl::StatusOr<db::SweepProgress> GetSweep(const std::string& sweep) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<db::TrialRecord>> ListTrials(
      const std::string& sweep, std::span<const db::TrialStatus> statuses = {}) = 0;
  [[nodiscard]] virtual absl::StatusOr<int64_t> CancelSweep(const std::string& sweep) = 0;
  // Calls `on_event` for every event until the sweep has finished (OK) or the stream fails.
  [[nodiscard]] virtual absl::Status WatchSweep(
      const std::string& sweep, const std::function<void(const TrialEvent&)>& on_event) = 0;

  // ---- Operators.
  // The worker groups the coordinator knows, ordered by id.
  [[nodiscard]] virtual absl::StatusOr<std::vector<db::WorkerRecord>> ListWorkers() = 0;
  // Lifts `worker_id`'s quarantine and resets its failure count. NotFound for an unknown worker.
  [[nodiscard]] virtual absl::Status ReleaseWorker(const std::string& worker_id) = 0;
};

}  // namespace istar::coordinator

#endif  // ISTAR_COORDINATOR_CLIENT_H_
