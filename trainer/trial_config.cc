// LoadTrialConfig: a sweep file of one trial, with command-line overrides applied.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "trainer/trainer.h"

namespace istar::trainer {

absl::StatusOr<sweeps::TrialSpec> LoadTrialConfig(const std::string& path,
                                                  std::span<const std::string> overrides) {
  ISTAR_ASSIGN_OR_RETURN(const std::string text, sweeps::LoadSweepText(path, overrides));
  ISTAR_ASSIGN_OR_RETURN(sweeps::SweepSpec sweep, sweeps::ParseSweep(text, path));
  if (sweep.trials.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": a training config must describe exactly 1 trial; this one expands to ",
        sweep.trials.size(), " (pick single values, e.g. --set grid.seed=3)"));
  }
  return sweep.trials[0];
}

}  // namespace istar::trainer
