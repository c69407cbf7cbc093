#include "worker/internal/simulate.h"

#include <string>
#include <thread>
#include <vector>

#include "base/status_macros.h"

namespace istar::worker::internal {
namespace {

// A value in [0, 1) from the trial id and a counter (FNV-1a, then a splitmix64 step): the same
// trial gives the same rows in every attempt, so rows sent twice are the same rows.
double Draw(const std::string& trial_id, int64_t k) {
  uint64_t h = 1469598103934665603ull;
  for (char c : trial_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  uint64_t z = h + static_cast<uint64_t>(k) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

}  // namespace

absl::StatusOr<trainer::TrialResult> SimulateTrial(const sweeps::TrialSpec& trial,
                                                   const Simulation& simulation,
                                                   const std::function<bool()>& should_stop,
                                                   trainer::ResultSink& sink) {
  trainer::TrialResult result;
  for (int64_t step = 1; step <= simulation.steps; ++step) {
    if (should_stop && should_stop()) {
      result.status = trainer::TrialOutcome::kStopped;
      return result;
    }
    std::this_thread::sleep_for(simulation.step_time);
    const double epoch = static_cast<double>(step) / static_cast<double>(simulation.steps);
    const db::MetricRow loss{.trial_id = trial.id,
                             .step = step,
                             .epoch = epoch,
                             .split = "train",
                             .name = "loss",
                             .value = 1.0 / static_cast<double>(step) + 0.1 * Draw(trial.id, step)};
    ISTAR_RETURN_IF_ERROR(sink.WriteMetrics({&loss, 1}));
    if (step % 10 == 0) {
      const double iso = Draw(trial.id, -step);
      const db::IsotropyRow row{.trial_id = trial.id,
                                .step = step,
                                .epoch = epoch,
                                .isoscore_star = iso,
                                .isoscore = iso};
      ISTAR_RETURN_IF_ERROR(sink.WriteIsotropy({&row, 1}));
    }
    result.steps = step;
  }
  const double accuracy = Draw(trial.id, 0);
  const db::FinalResult final_result{.split = "validation", .name = "accuracy", .value = accuracy};
  ISTAR_RETURN_IF_ERROR(sink.WriteFinalResults(trial.id, {&final_result, 1}));
  result.status = trainer::TrialOutcome::kDone;
  result.final_metrics["accuracy"] = accuracy;
  return result;
}

}  // namespace istar::worker::internal
