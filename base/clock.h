// File: base/clock.h
// -----------------------------------------------------------------------------
// Time behind an interface (docs/architecture.md, "Conventions"): code that stamps rows or
// expires leases asks a Clock, so that tests move time forward with a FakeClock instead of
// sleeping.
//
// Example:
//
//   FakeClock clock(Timestamp(std::chrono::hours(1)));
//   auto store = db::Store::Open(path, {.clock = &clock});
//   clock.Advance(std::chrono::seconds(31));   // a 30 s lease has now expired
//
// Thread safety: SystemClock() and FakeClock are thread-safe.
#ifndef ISTAR_BASE_CLOCK_H_
#define ISTAR_BASE_CLOCK_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace istar {

// Milliseconds since the Unix epoch (UTC): the time of rows and leases.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time.
  virtual Timestamp Now() const = 0;
};

// The system's wall clock, truncated to milliseconds. Lives for the whole process.
const Clock& SystemClock();

// A clock that moves only when told to: for tests of expiry and ordering.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start = Timestamp(std::chrono::hours(24 * 365 * 50)))
      : now_(start) {}
  Timestamp Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(std::chrono::milliseconds by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }
  void Set(Timestamp to) {
    absl::MutexLock lock(&mu_);
    now_ = to;
  }

 private:
  mutable absl::Mutex mu_;
  Timestamp now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace istar

#endif  // ISTAR_BASE_CLOCK_H_
