// `istar report` on a large database (issue 17: 2,000 trials and 10^6 isotropy rows): writes
// such a database through the Store API once, then times ReportData (the queries and the JSON)
// and AssemblePage, and writes the page for bench/run_report.sh to load in headless Chromium.
// A plain program (one run of each step is seconds long):
//
//   istar_report_bench DIR     # DIR/bench.db (made if absent), DIR/report.html
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/store.h"
#include "nlohmann/json.hpp"
#include "report/report.h"

namespace istar {
namespace {

constexpr int kSteps = 481;  // logged steps per trial: 2,080 trials x 481 = 1,000,480 rows
constexpr int kLayers = 12;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// 4 models x 4 tasks x (baseline, CosReg, 6 x 4 I-STAR) x 5 seeds = 2,080 trials, with final
// results and a union-layer isotropy row every 10 steps; deterministic made-up numbers.
bool MakeDatabase(const std::string& path) {
  absl::StatusOr<std::unique_ptr<db::Store>> store = db::Store::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return false;
  }
  sweeps::SweepSpec sweep{.name = "bench"};
  int n = 0;
  for (const char* model : {"bert", "albert", "distilbert", "roberta"}) {
    for (const char* task : {"sst2", "sst5", "qnli", "squad"}) {
      std::vector<std::pair<std::string, std::pair<double, double>>> settings = {
          {"baseline", {0, 0}}, {"cosreg", {1, 0}}};
      for (double lambda : {-5, -3, -1, 1, 3, 5}) {
        for (double zeta : {0.2, 0.4, 0.6, 0.8}) settings.push_back({"istar", {lambda, zeta}});
      }
      for (const auto& [regularizer, lz] : settings) {
        for (int seed = 0; seed < 5; ++seed) {
          sweeps::TrialSpec trial{.model = model, .task = task, .regularizer = regularizer};
          trial.lambda = lz.first;
          trial.zeta = lz.second;
          trial.seed = seed;
          trial.learning_rate = 1e-5;
          trial.batch_size = 32;
          trial.epochs = 4;
          trial.canonical_json =
              nlohmann::json{
                  {"model", model},     {"task", task},      {"regularizer", regularizer},
                  {"lambda", lz.first}, {"zeta", lz.second}, {"seed", seed}}
                  .dump();
          trial.id = absl::StrFormat("%064x", ++n);
          sweep.trials.push_back(std::move(trial));
        }
      }
    }
  }
  if (absl::Status s = (*store)->SubmitSweep(sweep).status(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return false;
  }
  for (size_t i = 0; i < sweep.trials.size(); ++i) {
    const sweeps::TrialSpec& trial = sweep.trials[i];
    const double x = static_cast<double>(i);
    std::vector<db::IsotropyRow> rows;
    for (int step = 0; step < kSteps; ++step) {
      const double t = step / static_cast<double>(kSteps);
      const double iso = 0.2 + 0.5 * t * (0.5 + 0.5 * std::sin(x)) + 0.01 * std::sin(step + x);
      rows.push_back({trial.id, step * 10, 4 * t, -1, iso, iso / 2, 0.3, std::nullopt});
    }
    std::vector<db::FinalResult> finals = {
        {"validation", trial.task == "squad" ? "f1" : "accuracy", 0.8 + 0.1 * std::cos(x)},
        {"validation", "cls_isoscore_star", 0.3 + 0.2 * std::sin(x)}};
    for (int k = 1; k <= kLayers; ++k) {
      finals.push_back({"validation", absl::StrCat("cls_isoscore_star_layer_", k),
                        0.1 + 0.05 * k * (1 + std::sin(x))});
    }
    if (!(*store)->MarkTrialRunning(trial.id).ok() || !(*store)->WriteIsotropy(rows).ok() ||
        !(*store)->WriteFinalResults(trial.id, finals).ok() ||
        !(*store)->MarkTrialDone(trial.id).ok()) {
      std::fprintf(stderr, "cannot write trial %s\n", trial.id.c_str());
      return false;
    }
  }
  std::printf("made %s: %zu trials, %zu isotropy rows\n", path.c_str(), sweep.trials.size(),
              sweep.trials.size() * kSteps);
  return true;
}

}  // namespace
}  // namespace istar

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: istar_report_bench DIR\n");
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "bench.db").string();
  if (!std::filesystem::exists(db)) {
    const auto start = std::chrono::steady_clock::now();
    if (!istar::MakeDatabase(db)) return 1;
    std::printf("writing the database: %.1f s\n", istar::Seconds(start));
  }
  absl::StatusOr<std::unique_ptr<istar::db::Store>> store =
      istar::db::Store::Open(db, {.mode = istar::db::OpenMode::kReadOnly});
  if (!store.ok()) return 1;
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> data = istar::report::ReportData(**store, {});
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  const double data_seconds = istar::Seconds(start);
  start = std::chrono::steady_clock::now();
  const std::string page = istar::report::AssemblePage(*data);
  const double page_seconds = istar::Seconds(start);
  std::ofstream((dir / "report.html").string(), std::ios::binary) << page;
  std::printf("ReportData: %.2f s (%.1f MB of JSON); AssemblePage: %.3f s; page %.1f MB\n",
              data_seconds, static_cast<double>(data->size()) / 1e6, page_seconds,
              static_cast<double>(page.size()) / 1e6);
  return 0;
}
