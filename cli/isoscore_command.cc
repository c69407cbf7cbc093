// `istar isoscore FILE`: the isotropy of a point cloud stored in a file.
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "arrays/array_file.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "regularizers/measure.h"

namespace istar::cli {
namespace {

// Beyond this many points, TwoNN's O(N^2 d) cost is announced before it starts.
constexpr int64_t kSlowTwoNNPoints = 20'000;

struct IsoScoreFlags {
  std::string file;
  std::string tensor;
  double zeta = 0.0;
  std::string shrinkage_file;
  std::string shrinkage_tensor;
  bool isoscore = false;
  bool cosine = false;
  bool twonn = false;
  bool all = false;
  bool json = false;
};

void PrintText(const IsoScoreFlags& flags, const regularizers::IsotropyReport& report) {
  std::cout << flags.file << ": " << report.points << " points, d = " << report.dims << "\n"
            << std::setprecision(10);
  std::cout << "IsoScore*            " << report.isoscore_star << "  (zeta = " << flags.zeta
            << ")\n";
  if (report.isoscore) std::cout << "IsoScore             " << *report.isoscore << "\n";
  if (report.average_cosine) std::cout << "average cosine       " << *report.average_cosine << "\n";
  if (report.twonn) std::cout << "TwoNN dimension      " << *report.twonn << "\n";
}

void PrintJson(const IsoScoreFlags& flags, const regularizers::IsotropyReport& report) {
  nlohmann::ordered_json out = {{"file", flags.file},
                                {"points", report.points},
                                {"dims", report.dims},
                                {"zeta", flags.zeta},
                                {"isoscore_star", report.isoscore_star}};
  if (report.isoscore) out["isoscore"] = *report.isoscore;
  if (report.average_cosine) out["average_cosine"] = *report.average_cosine;
  if (report.twonn) out["twonn"] = *report.twonn;
  std::cout << out.dump(2) << "\n";
}

absl::Status Run(IsoScoreFlags flags) {
  if (flags.zeta > 0.0 && flags.shrinkage_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--zeta ", flags.zeta, " needs --shrinkage FILE (the matrix S0)"));
  }
  if (flags.zeta == 0.0 && !flags.shrinkage_file.empty()) {
    return absl::InvalidArgumentError("--shrinkage has no effect without --zeta > 0");
  }
  ISTAR_ASSIGN_OR_RETURN(const arrays::Matrix points,
                         arrays::ReadMatrix(flags.file, {.tensor_name = flags.tensor}));
  regularizers::MeasureOptions options{.zeta = flags.zeta,
                                       .isoscore = flags.isoscore || flags.all,
                                       .average_cosine = flags.cosine || flags.all,
                                       .twonn = flags.twonn || flags.all};
  arrays::Matrix shrinkage;
  if (!flags.shrinkage_file.empty()) {
    ISTAR_ASSIGN_OR_RETURN(shrinkage, arrays::ReadMatrix(flags.shrinkage_file,
                                                         {.tensor_name = flags.shrinkage_tensor}));
    options.shrinkage = &shrinkage;
  }
  if (options.twonn && points.rows > kSlowTwoNNPoints) {
    std::cerr << "istar isoscore: TwoNN on " << points.rows
              << " points takes O(N^2 d) time; this may take minutes\n";
  }
  absl::StatusOr<regularizers::IsotropyReport> report =
      regularizers::MeasureIsotropy(points, options);
  if (!report.ok()) {
    return absl::Status(report.status().code(),
                        absl::StrCat(flags.file, ": ", report.status().message()));
  }
  flags.json ? PrintJson(flags, *report) : PrintText(flags, *report);
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddIsoScoreCommand(CLI::App& app) {
  auto flags = std::make_shared<IsoScoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "isoscore",
      "Print IsoScore* of a point cloud (rows = points) read from .npy, .safetensors or .csv; "
      "rank >= 3 arrays are flattened to points x last dimension (docs/array-files.md).");
  cmd->add_option("FILE", flags->file, "Point cloud file (.npy, .safetensors or .csv)")
      ->required();
  cmd->add_option("--tensor", flags->tensor,
                  "Tensor to read from a .safetensors file (optional if it holds one tensor)");
  cmd->add_option("--zeta", flags->zeta,
                  "Shrinkage weight in [0, 1]: S = (1 - zeta) cov(points) + zeta S0")
      ->check(CLI::Range(0.0, 1.0))
      ->default_val(0.0);
  cmd->add_option("--shrinkage", flags->shrinkage_file, "File holding S0, a d x d matrix");
  cmd->add_option("--shrinkage-tensor", flags->shrinkage_tensor,
                  "Tensor to read from a .safetensors shrinkage file");
  cmd->add_flag("--isoscore", flags->isoscore, "Also print IsoScore (no shrinkage)");
  cmd->add_flag("--cosine", flags->cosine, "Also print the mean pairwise cosine similarity");
  cmd->add_flag("--twonn", flags->twonn,
                "Also print the TwoNN intrinsic dimension (O(N^2 d): slow beyond ~20,000 points)");
  cmd->add_flag("--all", flags->all, "Print every measure");
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of text");
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("isoscore", status);
  };
}

}  // namespace istar::cli
