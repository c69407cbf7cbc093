#include "worker/internal/heartbeat.h"

#include <algorithm>
#include <iostream>

#include "absl/time/time.h"
#include "worker/internal/result_sink.h"

namespace istar::worker::internal {
namespace {

// How soon a heartbeat that found the coordinator unreachable is tried again: from kFirstRetry,
// doubling, to kLastRetry (or the interval, if shorter). See Note [Heartbeats while unreachable].
constexpr std::chrono::milliseconds kFirstRetry(100);
constexpr std::chrono::milliseconds kLastRetry(1000);

}  // namespace

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

// Note [Heartbeats while unreachable]
// A heartbeat that finds the coordinator unreachable is tried again soon (0.1 s, doubling up to
// 1 s), not one whole interval later. The lease lasts three intervals, and a coordinator
// back from a restart grants every lease one TTL from its start (Note [Grace after a restart] in
// db/internal/leases.cc); gRPC reconnects within a second (Note [Reconnecting quickly] in
// coordinator/client.cc). Waiting a full interval after each failed try spent up to half of that
// grace before the first heartbeat could land, and on a loaded machine (CI: ranks, coordinator
// and other tests on two cores) the rest went too: the lease of a group that had trained through
// the restart expired and its trial was dropped and counted as an attempt. Trying soon lands the
// first heartbeat within about two seconds of the coordinator's return. A try that finds no
// connection fails inside the client at once (the channel is reconnecting on its own), so a
// group tries once a second while the coordinator is down, which costs nothing.
void Heartbeater::Loop() {
  std::chrono::milliseconds wait = interval_;
  std::chrono::milliseconds retry{0};  // 0 while the last heartbeat landed
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(wait));
      if (stopping_) return;
    }
    const absl::StatusOr<db::LeaseState> state = client_.Heartbeat(
        trial_id_, fencing_token_,
        steps_begun_ != nullptr ? std::optional<int64_t>(steps_begun_->load()) : std::nullopt);
    if (state.ok()) {
      wait = interval_;
      retry = std::chrono::milliseconds(0);
      if (*state == db::LeaseState::kCancelled) {
        cancelled_.store(true);
        return;
      }
      continue;
    }
    // Unreachable: keep trying, soon at first (Note [Heartbeats while unreachable]).
    if (IsTransient(state.status())) {
      const std::chrono::milliseconds longest = std::min(kLastRetry, interval_);
      retry = retry.count() == 0 ? std::min(kFirstRetry, longest) : std::min(retry * 2, longest);
      wait = retry;
      continue;
    }
    std::cerr << "istar worker: trial " << trial_id_.substr(0, 12)
              << ": lease refused: " << state.status().message() << "\n";
    lost_.store(true);
    return;
  }
}

}  // namespace istar::worker::internal
