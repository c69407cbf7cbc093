#include "base/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace istar {
namespace {

using std::chrono::milliseconds;

TEST(SystemClock, IsTheWallClockToTheMillisecond) {
  const auto before =
      std::chrono::floor<milliseconds>(std::chrono::system_clock::now());
  const Timestamp now = SystemClock().Now();
  const auto after = std::chrono::floor<milliseconds>(std::chrono::system_clock::now());
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(Timestamp(milliseconds(5000)));
  EXPECT_EQ(clock.Now(), Timestamp(milliseconds(5000)));
  EXPECT_EQ(clock.Now(), Timestamp(milliseconds(5000)));
  clock.Advance(milliseconds(30'001));
  EXPECT_EQ(clock.Now(), Timestamp(milliseconds(35'001)));
  clock.Set(Timestamp(milliseconds(7)));
  EXPECT_EQ(clock.Now(), Timestamp(milliseconds(7)));
}

}  // namespace
}  // namespace istar
