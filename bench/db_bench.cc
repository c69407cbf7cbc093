// Metric rows per second into a real SQLite file through Store::WriteMetrics, the path every
// worker's metric stream takes (goal: >= 100,000 rows/s). Each batch is one transaction; the
// argument is the batch size. BM_WriteNewMetrics inserts new keys (a stream moving forward);
// BM_RewriteMetrics sends the same batch again (a retried stream: every row is an update).
// The file lives in the system temp directory, in WAL mode with synchronous = NORMAL, as the
// store always opens it.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "db/store.h"

namespace istar::db {
namespace {

constexpr int kTrials = 8;
constexpr const char* kNames[] = {"loss", "accuracy", "lr", "grad_norm"};

std::string TrialId(int n) {
  std::string id(64, '0');
  id.back() = static_cast<char>('0' + n);
  return id;
}

// A fresh store with kTrials trials; removes its files when destroyed.
class BenchStore {
 public:
  BenchStore() {
    path_ = (std::filesystem::temp_directory_path() /
             ("istar_db_bench_" + std::to_string(::getpid()) + ".db"))
                .string();
    Remove();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
    if (!store.ok()) return;
    store_ = std::move(*store);
    sweeps::SweepSpec sweep{.name = "bench"};
    for (int n = 0; n < kTrials; ++n) {
      sweeps::TrialSpec trial{
          .id = TrialId(n), .canonical_json = "{}", .model = "bert", .task = "sst2"};
      trial.seed = n;
      sweep.trials.push_back(trial);
    }
    if (!store_->SubmitSweep(sweep).ok()) store_.reset();
  }
  ~BenchStore() {
    store_.reset();
    Remove();
  }
  Store* get() const { return store_.get(); }

 private:
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  std::string path_;
  std::unique_ptr<Store> store_;
};

// `count` rows: for each step, 4 metric names on each of the trials in turn.
std::vector<MetricRow> Batch(int64_t count) {
  std::vector<MetricRow> rows;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t step = i / (4 * kTrials);
    rows.push_back({.trial_id = TrialId(static_cast<int>(i / 4 % kTrials)),
                    .step = step,
                    .epoch = step / 1000.0,
                    .split = "train",
                    .name = kNames[i % 4],
                    .value = 1.0 / static_cast<double>(i + 1)});
  }
  return rows;
}

void BM_WriteNewMetrics(benchmark::State& state) {
  BenchStore store;
  if (store.get() == nullptr) return state.SkipWithError("cannot open the store");
  std::vector<MetricRow> rows = Batch(state.range(0));
  const int64_t steps_per_batch = rows.back().step + 1;
  for (auto _ : state) {
    const absl::Status status = store.get()->WriteMetrics(rows);
    if (!status.ok()) return state.SkipWithError(std::string(status.message()).c_str());
    for (MetricRow& row : rows) row.step += steps_per_batch;  // the next batch: new keys
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WriteNewMetrics)
    ->Arg(100)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_RewriteMetrics(benchmark::State& state) {
  BenchStore store;
  if (store.get() == nullptr) return state.SkipWithError("cannot open the store");
  const std::vector<MetricRow> rows = Batch(state.range(0));
  for (auto _ : state) {
    const absl::Status status = store.get()->WriteMetrics(rows);
    if (!status.ok()) return state.SkipWithError(std::string(status.message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RewriteMetrics)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace istar::db

BENCHMARK_MAIN();
