#include "base/check.h"

#include <gtest/gtest.h>

namespace istar {
namespace {

TEST(CheckDeathTest, FailedCheckPrintsConditionLocationAndMessageThenAborts) {
  const int count = -3;
  EXPECT_DEATH(ISTAR_CHECK(count >= 0) << "count went negative: " << count,
               "check_test.cc:[0-9]+: Check failed: count >= 0 count went negative: -3");
}

TEST(Check, PassingCheckDoesNotEvaluateTheMessage) {
  int evaluated = 0;
  ISTAR_CHECK(true) << ++evaluated;
  EXPECT_EQ(evaluated, 0);
}

}  // namespace
}  // namespace istar
