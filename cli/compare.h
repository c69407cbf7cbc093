// The comparison table of `istar compare`, printable by other commands (`istar run` ends with it).
#ifndef ISTAR_CLI_COMPARE_H_
#define ISTAR_CLI_COMPARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace istar::cli {

// `istar compare`'s flags (docs/cli.md).
struct CompareFlags {
  std::string db;
  std::vector<std::string> sweeps;
  std::string metric;
  std::string select_metric;  // empty: metric
  std::string split = "validation";
  std::string select_on;             // empty: split
  std::optional<int64_t> min_seeds;  // nullopt: the most seeds any group of the cell has
  bool diverged_as_worst = false;
  bool lower_is_better = false;
  double confidence = 0.95;
  int digits = 4;
  std::string format = "text";
};

// Prints the comparison table of the database `flags.db` (opened read-only) to stdout.
[[nodiscard]] absl::Status PrintComparison(const CompareFlags& flags);

}  // namespace istar::cli

#endif  // ISTAR_CLI_COMPARE_H_
