// `istar generate FILE`: a synthetic point cloud whose population isotropy is known.
#include <iostream>
#include <memory>
#include <random>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "arrays/array_file.h"
#include "base/status_macros.h"
#include "cli/commands.h"

namespace istar::cli {
namespace {

struct GenerateFlags {
  std::string file;
  int64_t points = 4096;
  int64_t dims = 768;
  int64_t rank = 0;  // 0 means dims
  double offset = 0.0;
  uint64_t seed = 0;
  bool float64 = false;
};

// Points whose first `rank` coordinates are independent N(0, 1) and the rest 0, plus `offset`
// on every coordinate. The population covariance has `rank` equal eigenvalues, so its IsoScore
// is (rank - 1) / (dims - 1) whatever the offset (isotropy is translation-invariant).
arrays::Matrix Generate(const GenerateFlags& flags, int64_t rank) {
  std::mt19937_64 rng(flags.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  arrays::Matrix m{.rows = flags.points, .cols = flags.dims};
  m.values.assign(flags.points * flags.dims, flags.offset);
  for (int64_t r = 0; r < flags.points; ++r) {
    for (int64_t c = 0; c < rank; ++c) m.values[r * flags.dims + c] += normal(rng);
  }
  return m;
}

absl::Status Run(const GenerateFlags& flags) {
  if (!absl::EndsWithIgnoreCase(flags.file, ".npy")) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.file, ": generate writes .npy files; give a name ending in .npy"));
  }
  const int64_t rank = flags.rank == 0 ? flags.dims : flags.rank;
  if (rank > flags.dims) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank ", rank, " exceeds --dims ", flags.dims));
  }
  const arrays::Matrix m = Generate(flags, rank);
  ISTAR_RETURN_IF_ERROR(arrays::WriteNpy(
      flags.file, m, flags.float64 ? arrays::DType::kFloat64 : arrays::DType::kFloat32));
  std::cout << "wrote " << flags.file << ": " << flags.points << " points in d = " << flags.dims
            << ", isotropic on " << rank << " dimensions; population IsoScore (k-1)/(d-1) = "
            << static_cast<double>(rank - 1) / static_cast<double>(flags.dims - 1) << "\n";
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddGenerateCommand(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Write a synthetic point cloud (.npy) that is isotropic on its first --rank coordinates, "
      "so its population IsoScore is (rank - 1) / (dims - 1).");
  cmd->add_option("FILE", flags->file, "Output .npy file")->required();
  cmd->add_option("--points", flags->points, "Number of points N")
      ->check(CLI::Range(int64_t{2}, int64_t{100'000'000}))
      ->default_val(4096);
  cmd->add_option("--dims", flags->dims, "Dimension d")
      ->check(CLI::Range(int64_t{2}, int64_t{100'000}))
      ->default_val(768);
  cmd->add_option("--rank", flags->rank, "Coordinates that vary (1..dims; default: dims)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000}));
  cmd->add_option("--offset", flags->offset,
                  "Constant added to every coordinate (a large mean, as in BERT's outlier "
                  "dimensions; does not change isotropy)")
      ->default_val(0.0);
  cmd->add_option("--seed", flags->seed, "Random seed")->default_val(0);
  cmd->add_flag("--float64", flags->float64, "Write float64 instead of float32");
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("generate", status);
  };
}

}  // namespace istar::cli
