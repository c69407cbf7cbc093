#include "db/records.h"

#include "db/internal/operations.h"

namespace istar::db {
namespace {

struct StatusName {
  TrialStatus status;
  std::string_view name;
};
// The values of trials.status (docs/database.md); the schema's CHECK lists the same strings.
constexpr StatusName kStatusNames[] = {
    {TrialStatus::kPending, "pending"}, {TrialStatus::kLeased, "leased"},
    {TrialStatus::kRunning, "running"}, {TrialStatus::kDone, "done"},
    {TrialStatus::kFailed, "failed"},   {TrialStatus::kCancelled, "cancelled"},
};

}  // namespace

std::string_view TrialStatusName(TrialStatus status) {
  for (const StatusName& entry : kStatusNames) {
    if (entry.status == status) return entry.name;
  }
  return "unknown";
}

bool IsFinished(TrialStatus status) {
  return status == TrialStatus::kDone || status == TrialStatus::kFailed ||
         status == TrialStatus::kCancelled;
}

int64_t FinishedTrials(const SweepProgress& progress) {
  int64_t finished = 0;
  for (const auto& [status, count] : progress.by_status) {
    if (IsFinished(status)) finished += count;
  }
  return finished;
}

std::optional<TrialStatus> ParseTrialStatus(std::string_view name) {
  for (const StatusName& entry : kStatusNames) {
    if (entry.name == name) return entry.status;
  }
  return std::nullopt;
}

namespace internal {

}  // namespace internal
}  // namespace istar::db
