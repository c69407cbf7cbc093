// The hang watchdog of a trial: progress, not liveness, keeps a group's trial (docs/worker.md,
// "Hangs"). The training loop calls Progress() before every step; a background thread calls
// `on_hang` once when no progress has come for `timeout`: a collective that never returns (a
// stopped or dead rank, a dead NIC, a GPU fault) blocks the training thread, but not this one.
#ifndef ISTAR_WORKER_INTERNAL_WATCHDOG_H_
#define ISTAR_WORKER_INTERNAL_WATCHDOG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace istar::worker::internal {

// One owner of the watchdog thread: started by the constructor, stopped and joined by the
// destructor (which may not run if `on_hang` ends the process). Thread safety: Progress() from
// the training thread; `on_hang` runs on the watchdog's thread.
class HangWatchdog {
 public:
  // `on_hang(step, seconds)`: the last step that made progress and how long ago it was.
  HangWatchdog(std::chrono::milliseconds timeout,
               std::function<void(int64_t step, double seconds)> on_hang);
  HangWatchdog(const HangWatchdog&) = delete;
  HangWatchdog& operator=(const HangWatchdog&) = delete;
  ~HangWatchdog();

  // The training reached `step` (counted by the caller) now.
  void Progress(int64_t step);

 private:
  void Loop();

  const std::chrono::milliseconds timeout_;
  const std::function<void(int64_t, double)> on_hang_;
  std::atomic<int64_t> step_{0};
  std::atomic<std::chrono::steady_clock::rep> last_{0};  // steady_clock ticks of the last step
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once every member above exists
};

}  // namespace istar::worker::internal

#endif  // ISTAR_WORKER_INTERNAL_WATCHDOG_H_
