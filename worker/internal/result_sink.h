// Rank 0's ResultSink in a worker group: rows go to the coordinator in batches, over the lease's
// fencing token.
#ifndef ISTAR_WORKER_INTERNAL_RESULT_SINK_H_
#define ISTAR_WORKER_INTERNAL_RESULT_SINK_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/client.h"
#include "db/records.h"
#include "trainer/trainer.h"

namespace istar::worker::internal {

// Note [Buffered reporting]: rows are buffered and sent as one ReportMetrics stream once
// `batch_rows` have gathered (and at Flush). A send that fails because the coordinator is
// unreachable (Unavailable, DeadlineExceeded) keeps the rows for the next try, so a coordinator
// restart loses nothing; rows are upserted by key, so a batch that was stored but whose answer
// was lost is harmless to send again. A refused token (FailedPrecondition: the lease ended) is
// returned: the trial must stop.
class CoordinatorSink final : public trainer::ResultSink {
 public:
  CoordinatorSink(coordinator::CoordinatorClient& client, std::string trial_id,
                  int64_t fencing_token, int64_t batch_rows,
                  std::chrono::milliseconds patience);

  absl::Status WriteMetrics(std::span<const db::MetricRow> rows) override;
  absl::Status WriteIsotropy(std::span<const db::IsotropyRow> rows) override;
  // Keeps the final results for CompleteTrial (they go with it, not as rows).
  absl::Status WriteFinalResults(const std::string& trial_id,
                                 std::span<const db::FinalResult> results) override;

  // Before a checkpoint: Flush with the sink's patience; Unavailable if the rows could not be
  // delivered in it (trainer::ResultSink::Sync).
  absl::Status Sync() override;

  // Sends every buffered row, retrying with exponential backoff (0.1 s doubling to 5 s) while
  // the coordinator is unreachable, for up to `patience`. The last error otherwise.
  [[nodiscard]] absl::Status Flush(std::chrono::milliseconds patience);

  const std::vector<db::FinalResult>& final_results() const { return final_results_; }
  int64_t rows_sent() const { return rows_sent_; }

 private:
  // One attempt to send the buffer when it holds at least `threshold` rows.
  absl::Status TrySend(size_t threshold);

  coordinator::CoordinatorClient& client_;
  const std::string trial_id_;
  const int64_t fencing_token_;
  const size_t batch_rows_;
  const std::chrono::milliseconds patience_;  // for Sync
  std::vector<db::MetricRow> metrics_;
  std::vector<db::IsotropyRow> isotropy_;
  std::vector<db::FinalResult> final_results_;
  int64_t rows_sent_ = 0;
};

// True for the errors that mean "the coordinator could not be reached; try again later".
bool IsTransient(const absl::Status& status);

}  // namespace istar::worker::internal

#endif  // ISTAR_WORKER_INTERNAL_RESULT_SINK_H_
