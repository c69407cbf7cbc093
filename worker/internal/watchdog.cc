#include "worker/internal/watchdog.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"

namespace istar::worker::internal {

HangWatchdog::HangWatchdog(std::chrono::milliseconds timeout,
                           std::function<void(int64_t, double)> on_hang)
    : timeout_(timeout),
      on_hang_(std::move(on_hang)),
      last_(std::chrono::steady_clock::now().time_since_epoch().count()),
      thread_([this] { Loop(); }) {}

HangWatchdog::~HangWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HangWatchdog::Progress(int64_t step) {
  step_.store(step);
  last_.store(std::chrono::steady_clock::now().time_since_epoch().count());
}

void HangWatchdog::Loop() {
  // Looks a few times per timeout, at most every second: a hang is noticed within 1.25 timeouts.
  const auto period = std::clamp<std::chrono::milliseconds>(
      timeout_ / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(period));
      if (stopping_) return;
    }
    const std::chrono::steady_clock::duration since =
        std::chrono::steady_clock::now().time_since_epoch() -
        std::chrono::steady_clock::duration(last_.load());
    if (since < timeout_) continue;
    on_hang_(step_.load(), std::chrono::duration<double>(since).count());
    return;
  }
}

}  // namespace istar::worker::internal
