// The heartbeat of a lease: a background thread on rank 0 that extends the lease while the trial
// trains, and notices when the trial was cancelled or the lease lost.
#ifndef ISTAR_WORKER_INTERNAL_HEARTBEAT_H_
#define ISTAR_WORKER_INTERNAL_HEARTBEAT_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/client.h"

namespace istar::worker::internal {

// One owner of the heartbeat thread: started by the constructor, stopped and joined by the
// destructor. Thread safety: cancelled() and lost() may be read from any thread.
class Heartbeater {
 public:
  // `steps_begun`, when set, is the trial's progress, sent with every heartbeat; it must outlive
  // this object.
  Heartbeater(coordinator::CoordinatorClient& client, std::string trial_id, int64_t fencing_token,
              std::chrono::milliseconds interval,
              const std::atomic<int64_t>* steps_begun = nullptr);
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;
  ~Heartbeater();

  // The coordinator answered that the trial was cancelled.
  bool cancelled() const { return cancelled_.load(); }
  // The coordinator refused the lease (it expired and the trial went elsewhere, or ended).
  bool lost() const { return lost_.load(); }

 private:
  void Loop();

  coordinator::CoordinatorClient& client_;
  const std::string trial_id_;
  const int64_t fencing_token_;
  const std::chrono::milliseconds interval_;
  const std::atomic<int64_t>* const steps_begun_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> lost_{false};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once every member above exists
};

}  // namespace istar::worker::internal

#endif  // ISTAR_WORKER_INTERNAL_HEARTBEAT_H_
