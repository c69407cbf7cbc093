#include "base/status_macros.h"

#include <gtest/gtest.h>

namespace istar {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ISTAR_ASSIGN_OR_RETURN(const int half, Half(x));
  ISTAR_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status FailIfNegative(int x, int* calls) {
  ++*calls;
  return x < 0 ? absl::OutOfRangeError("negative") : absl::OkStatus();
}

absl::Status CheckBoth(int a, int b, int* calls) {
  ISTAR_RETURN_IF_ERROR(FailIfNegative(a, calls));
  ISTAR_RETURN_IF_ERROR(FailIfNegative(b, calls));
  return absl::OkStatus();
}

TEST(StatusMacros, AssignOrReturnPassesValuesAndFirstError) {
  EXPECT_EQ(*Quarter(12), 3);
  EXPECT_EQ(Quarter(6).status().message(), "odd");  // 6 / 2 = 3 fails the second step
  EXPECT_EQ(Quarter(5).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusMacros, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_TRUE(CheckBoth(1, 2, &calls).ok());
  EXPECT_EQ(calls, 2);
  calls = 0;
  EXPECT_EQ(CheckBoth(-1, 2, &calls).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace istar
