// make_demo_db PATH: writes a small results database with known numbers through the Store API,
// for tests/cli/db_cli_test.sh. PATH must not exist.
//
// Sweep "demo", all on sst2 unless noted (ids: the hex number below, then zeros to 64 digits):
//   bert baseline            1001 1002 1003  seeds 0-2  accuracy 0.90 0.92 0.94      done
//   bert cosreg lambda 1     2001            seed 0     accuracy 0.925               done
//   bert istar -5 / 0.2      3001 3002 3003  seeds 0-2  accuracy 0.90 0.91 0.92      done
//   bert istar -1 / 0.2      3101 3102 3103  seeds 0-2  accuracy 0.93 0.94 0.98      done
//   distilbert istar -5/0.2  4001 4002       seeds 0-1  accuracy 0.85 0.87           done
//   albert qnli baseline     5001            seed 0     failed "diverged: loss is NaN at step 812"
//   albert qnli istar -5/0.2 5002            seed 0     pending
// Trial 3101 has a trajectory: train/loss at steps 0, 50, 100, validation/accuracy at step 100,
// and isotropy at steps 0 and 100 for the union (-1) and layers 1 and 2.
// The comparison, by hand (tests/db/compare_test.cc has the same numbers): bert baseline
// 0.92 ± 0.02 (n=3); cosreg 0.925 (n=1), +0.005; istar 0.95 ± 0.0265 (n=3), +0.03 with the 95%
// Welch interval [-0.0248, +0.0848].
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status_macros.h"
#include "db/store.h"

namespace istar::db {
namespace {

std::string Id(int n) {
  char buffer[65];
  std::snprintf(buffer, sizeof(buffer), "%04x%060d", n, 0);
  return buffer;
}

struct Demo {
  int id;
  std::string model;
  std::string task;
  std::string regularizer;
  double lambda;
  double zeta;
  int64_t seed;
  std::optional<double> accuracy;  // done with this validation accuracy; else see `failure`
  std::string failure;             // failed with this error if not empty; else pending
};

sweeps::TrialSpec Spec(const Demo& demo) {
  sweeps::TrialSpec trial;
  trial.id = Id(demo.id);
  trial.model = demo.model;
  trial.task = demo.task;
  trial.regularizer = demo.regularizer;
  trial.lambda = demo.lambda;
  trial.zeta = demo.zeta;
  trial.seed = demo.seed;
  // The keys of a real canonical configuration that the demo sets (compare groups by them).
  trial.canonical_json = nlohmann::json{
      {"model", trial.model},
      {"task", trial.task},
      {"regularizer", trial.regularizer},
      {"lambda", trial.lambda},
      {"zeta", trial.zeta},
      {"learning_rate", trial.learning_rate},
      {"batch_size", trial.batch_size},
      {"epochs", trial.epochs},
      {"seed", trial.seed}}.dump();
  return trial;
}

absl::Status WriteTrajectory(Store& store, const std::string& trial_id) {
  const std::vector<MetricRow> metrics = {
      {trial_id, 0, 0.0, "train", "loss", 0.69},
      {trial_id, 50, 0.5, "train", "loss", 0.41},
      {trial_id, 100, 1.0, "train", "loss", 0.3},
      {trial_id, 100, 1.0, "validation", "accuracy", 0.93},
  };
  ISTAR_RETURN_IF_ERROR(store.WriteMetrics(metrics));
  std::vector<IsotropyRow> isotropy;
  for (const int64_t step : {0, 100}) {
    for (const int64_t layer : {IsotropyRow::kUnionLayer, int64_t{1}, int64_t{2}}) {
      isotropy.push_back({trial_id, step, step / 100.0, layer, 0.5 - 0.001 * step,
                          0.4 - 0.001 * step, 0.2 + 0.001 * step,
                          layer == IsotropyRow::kUnionLayer ? std::optional(9.5) : std::nullopt});
    }
  }
  return store.WriteIsotropy(isotropy);
}

absl::Status Make(const std::string& path) {
  const std::vector<Demo> demos = {
      {0x1001, "bert", "sst2", "baseline", 0, 0, 0, 0.90, ""},
      {0x1002, "bert", "sst2", "baseline", 0, 0, 1, 0.92, ""},
      {0x1003, "bert", "sst2", "baseline", 0, 0, 2, 0.94, ""},
      {0x2001, "bert", "sst2", "cosreg", 1, 0, 0, 0.925, ""},
      {0x3001, "bert", "sst2", "istar", -5, 0.2, 0, 0.90, ""},
      {0x3002, "bert", "sst2", "istar", -5, 0.2, 1, 0.91, ""},
      {0x3003, "bert", "sst2", "istar", -5, 0.2, 2, 0.92, ""},
      {0x3101, "bert", "sst2", "istar", -1, 0.2, 0, 0.93, ""},
      {0x3102, "bert", "sst2", "istar", -1, 0.2, 1, 0.94, ""},
      {0x3103, "bert", "sst2", "istar", -1, 0.2, 2, 0.98, ""},
      {0x4001, "distilbert", "sst2", "istar", -5, 0.2, 0, 0.85, ""},
      {0x4002, "distilbert", "sst2", "istar", -5, 0.2, 1, 0.87, ""},
      {0x5001, "albert", "qnli", "baseline", 0, 0, 0, std::nullopt,
       "diverged: loss is NaN at step 812"},
      {0x5002, "albert", "qnli", "istar", -5, 0.2, 0, std::nullopt, ""},
  };
  if (std::filesystem::exists(path)) {
    return absl::FailedPreconditionError(path + " exists; make_demo_db writes a new file");
  }
  ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path));
  sweeps::SweepSpec sweep{.name = "demo", .source = "demo.yaml", .yaml = "name: demo\n"};
  for (const Demo& demo : demos) sweep.trials.push_back(Spec(demo));
  ISTAR_RETURN_IF_ERROR(store->SubmitSweep(sweep).status());
  for (const Demo& demo : demos) {
    if (!demo.accuracy && demo.failure.empty()) continue;
    ISTAR_RETURN_IF_ERROR(store->MarkTrialRunning(Id(demo.id)).status());
    if (!demo.accuracy) {
      ISTAR_RETURN_IF_ERROR(store->MarkTrialFailed(Id(demo.id), demo.failure));
      continue;
    }
    const std::vector<FinalResult> results = {{"validation", "accuracy", *demo.accuracy}};
    ISTAR_RETURN_IF_ERROR(store->WriteFinalResults(Id(demo.id), results));
    ISTAR_RETURN_IF_ERROR(store->MarkTrialDone(Id(demo.id)));
  }
  return WriteTrajectory(*store, Id(0x3101));
}

}  // namespace
}  // namespace istar::db

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_demo_db PATH\n";
    return 2;
  }
  const absl::Status status = istar::db::Make(argv[1]);
  if (!status.ok()) {
    std::cerr << "make_demo_db: " << status << "\n";
    return 1;
  }
  return 0;
}
