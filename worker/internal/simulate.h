// The null trainer of `istar worker --simulate` (docs/worker.md, "Load and soak tests"): it
// takes the place of trainer::TrainTrial for a leased trial, so that the coordinator, the
// client, leases, heartbeats, fencing and the row stream can be loaded and soaked with many
// groups and no training. It "trains" for a fixed number of steps of a fixed duration, writing
// one metric row per step and one isotropy row every 10 steps, with values drawn
// deterministically from the trial id, then the final results.
#ifndef ISTAR_WORKER_INTERNAL_SIMULATE_H_
#define ISTAR_WORKER_INTERNAL_SIMULATE_H_

#include <chrono>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "sweeps/sweep.h"
#include "trainer/trainer.h"

namespace istar::worker::internal {

struct Simulation {
  int64_t steps = 20;                       // steps of every trial, >= 1
  std::chrono::milliseconds step_time{10};  // how long each step takes
};

// Rows of `trial` to `sink`; "stopped" after the step at which `should_stop` says so (polled
// before every step, as the trainer does), "done" after the last step. The sink's errors.
[[nodiscard]] absl::StatusOr<trainer::TrialResult> SimulateTrial(
    const sweeps::TrialSpec& trial, const Simulation& simulation,
    const std::function<bool()>& should_stop, trainer::ResultSink& sink);

}  // namespace istar::worker::internal

#endif  // ISTAR_WORKER_INTERNAL_SIMULATE_H_
