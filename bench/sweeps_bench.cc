// Parsing and expanding a sweep of exactly 100,000 trials, ids included (sweeps/sweep.h):
// 5 models x 4 tasks x 25 regularizer settings x 2 learning rates x 2 batch sizes x 50 seeds.
// The 25 settings: baseline, cosreg with 4 lambdas, istar with 5 lambdas x 4 zetas.
#include <benchmark/benchmark.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "sweeps/sweep.h"

namespace istar::sweeps {
namespace {

std::string HundredThousandTrialSweep() {
  std::string yaml = "name: bench\nmodels:\n";
  for (int m = 0; m < 5; ++m)
    absl::StrAppend(&yaml, "  model-", m, ": /checkpoints/model-", m, "\n");
  yaml += "tasks: {sst2: /data/sst2, sst5: /data/sst5, qnli: /data/qnli, squad: /data/squad}\n";
  yaml += "training: {max_seq_length: 256, precision: bf16}\n";
  yaml += "grid:\n  learning_rate: [1e-5, 2e-5]\n  batch_size: [16, 32]\n  seed: [";
  for (int s = 0; s < 50; ++s) absl::StrAppend(&yaml, s == 0 ? "" : ", ", s);
  yaml +=
      "]\n  regularizers:\n    - baseline\n    - cosreg: {lambda: [0.5, 1, 2, 4]}\n"
      "    - istar: {lambda: [-5, -3, -1, 1, 3], zeta: [0.2, 0.4, 0.6, 0.8]}\n";
  return yaml;
}

void BM_ParseAndExpand100kTrials(benchmark::State& state) {
  const std::string yaml = HundredThousandTrialSweep();
  for (auto _ : state) {
    absl::StatusOr<SweepSpec> sweep = ParseSweep(yaml, "bench.yaml");
    if (!sweep.ok() || sweep->trials.size() != 100'000) {
      state.SkipWithError(sweep.ok() ? "expected 100,000 trials"
                                     : std::string(sweep.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(sweep->trials.back().id);
  }
  state.SetItemsProcessed(state.iterations() * 100'000);
}
BENCHMARK(BM_ParseAndExpand100kTrials)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace istar::sweeps

BENCHMARK_MAIN();
