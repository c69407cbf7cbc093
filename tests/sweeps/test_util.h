// Helpers shared by the sweeps tests.
#ifndef ISTAR_TESTS_SWEEPS_TEST_UTIL_H_
#define ISTAR_TESTS_SWEEPS_TEST_UTIL_H_

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sweeps/sweep.h"

namespace istar::sweeps::testing {

// The message of the error ParseSweep returns for `yaml` (named sweep.yaml), or "OK" if it
// returns a sweep; an error of another code than InvalidArgument is reported as a failure.
inline std::string ErrorOf(const std::string& yaml) {
  const absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "sweep.yaml");
  if (sweep.ok()) return "OK";
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kInvalidArgument) << sweep.status();
  return std::string(sweep.status().message());
}

// The sweep of `yaml`; an empty one (and a test failure) if it does not parse.
inline SweepSpec Parse(const std::string& yaml) {
  absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "sweep.yaml");
  EXPECT_TRUE(sweep.ok()) << sweep.status() << "\n" << yaml;
  return sweep.ok() ? *std::move(sweep) : SweepSpec{};
}

inline std::vector<std::string> Ids(const SweepSpec& sweep) {
  std::vector<std::string> ids;
  for (const TrialSpec& trial : sweep.trials) ids.push_back(trial.id);
  return ids;
}

}  // namespace istar::sweeps::testing

#endif  // ISTAR_TESTS_SWEEPS_TEST_UTIL_H_
