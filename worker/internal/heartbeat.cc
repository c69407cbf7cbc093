#include "worker/internal/heartbeat.h"

#include <iostream>

#include "absl/time/time.h"
#include "worker/internal/result_sink.h"

namespace istar::worker::internal {

Heartbeater::Heartbeater(coordinator::CoordinatorClient& client, std::string trial_id,
                         int64_t fencing_token, std::chrono::milliseconds interval,
                         const std::atomic<int64_t>* steps_begun)
    : client_(client),
      trial_id_(std::move(trial_id)),
      fencing_token_(fencing_token),
      interval_(interval),
      steps_begun_(steps_begun),
      thread_([this] { Loop(); }) {}

Heartbeater::~Heartbeater() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Heartbeater::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_));
      if (stopping_) return;
    }
    const absl::StatusOr<db::LeaseState> state = client_.Heartbeat(
        trial_id_, fencing_token_,
        steps_begun_ != nullptr ? std::optional<int64_t>(steps_begun_->load()) : std::nullopt);
    if (state.ok()) {
      if (*state == db::LeaseState::kCancelled) {
        cancelled_.store(true);
        return;
      }
      continue;
    }
    // Unreachable: keep trying; the lease lasts several intervals.
    if (IsTransient(state.status())) continue;
    std::cerr << "istar worker: trial " << trial_id_.substr(0, 12)
              << ": lease refused: " << state.status().message() << "\n";
    lost_.store(true);
    return;
  }
}

}  // namespace istar::worker::internal
