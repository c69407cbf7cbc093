// Fixture for thread_safety_violation_test: reads a guarded member without holding its mutex.
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

class Counter {
 public:
  int Peek() const { return count_; }  // missing absl::MutexLock: clang must reject this

 private:
  mutable absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

int Use() { return Counter().Peek(); }
