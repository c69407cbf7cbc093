#include "worker/internal/result_sink.h"

#include <algorithm>
#include <thread>

namespace istar::worker::internal {

bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

CoordinatorSink::CoordinatorSink(coordinator::CoordinatorClient& client, std::string trial_id,
                                 int64_t fencing_token, int64_t batch_rows,
                                 std::chrono::milliseconds patience)
    : client_(client),
      trial_id_(std::move(trial_id)),
      fencing_token_(fencing_token),
      batch_rows_(static_cast<size_t>(std::max<int64_t>(1, batch_rows))),
      patience_(patience) {}

absl::Status CoordinatorSink::Sync() {
  const absl::Status flushed = Flush(patience_);
  if (IsTransient(flushed)) return absl::UnavailableError(flushed.message());
  return flushed;
}

absl::Status CoordinatorSink::TrySend(size_t threshold) {
  const size_t buffered = metrics_.size() + isotropy_.size();
  if (buffered == 0 || buffered < threshold) return absl::OkStatus();
  const absl::Status sent = client_.ReportMetrics(trial_id_, fencing_token_, metrics_, isotropy_,
                                                  static_cast<int64_t>(batch_rows_));
  if (!sent.ok()) return sent;
  rows_sent_ += static_cast<int64_t>(buffered);
  metrics_.clear();
  isotropy_.clear();
  return absl::OkStatus();
}

absl::Status CoordinatorSink::WriteMetrics(std::span<const db::MetricRow> rows) {
  metrics_.insert(metrics_.end(), rows.begin(), rows.end());
  const absl::Status sent = TrySend(batch_rows_);
  return IsTransient(sent) ? absl::OkStatus() : sent;  // kept for the next try
}

absl::Status CoordinatorSink::WriteIsotropy(std::span<const db::IsotropyRow> rows) {
  isotropy_.insert(isotropy_.end(), rows.begin(), rows.end());
  const absl::Status sent = TrySend(batch_rows_);
  return IsTransient(sent) ? absl::OkStatus() : sent;
}

absl::Status CoordinatorSink::WriteFinalResults(const std::string&,
                                                std::span<const db::FinalResult> results) {
  final_results_.assign(results.begin(), results.end());
  return absl::OkStatus();
}

absl::Status CoordinatorSink::Flush(std::chrono::milliseconds patience) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  std::chrono::milliseconds backoff(100);
  while (true) {
    const absl::Status sent = TrySend(1);
    if (!IsTransient(sent) || std::chrono::steady_clock::now() + backoff > give_up) return sent;
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
  }
}

}  // namespace istar::worker::internal
