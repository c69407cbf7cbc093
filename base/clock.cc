#include "base/clock.h"

namespace istar {
namespace {

class WallClock final : public Clock {
 public:
  Timestamp Now() const override {
    return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
};

}  // namespace

const Clock& SystemClock() {
  static const WallClock* const kClock = new WallClock();
  return *kClock;
}

}  // namespace istar
