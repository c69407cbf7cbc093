// A load test of the coordinator over loopback: a real server on a real SQLite file in the
// system temp directory, and simulated worker groups, each a thread with its own client.
//
// Phase 1 (cycles): --workers groups loop lease -> report one batch of --rows metric rows ->
// complete until the --trials trials of a sweep are done. Prints cycles per second and the
// latency of LeaseTrial (p50, p99, max) as each worker saw it.
// Phase 2 (metric stream): --streams groups each lease a trial and stream --stream_rows rows in
// batches of --batch_rows over one ReportMetrics call. Prints rows per second, gRPC into SQLite.
//
// A plain timed program rather than Google Benchmark: both phases are one concurrent run of many
// threads against one server, with percentiles of individual calls, which the library's
// per-iteration model does not express. bench/run_coordinator.sh runs it.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/client.h"
#include "coordinator/coordinator.h"

namespace istar::coordinator {
namespace {

using Steady = std::chrono::steady_clock;
constexpr char kToken[] = "bench-token-0123456789abcdef";

struct Flags {
  int workers = 64;
  int trials = 2000;
  int rows = 50;
  int streams = 4;
  int stream_rows = 250'000;
  int batch_rows = 10'000;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "usage: %s [--workers=N --trials=N --rows=N --streams=N "
                   "--stream_rows=N --batch_rows=N]\n", argv[0]);
      std::exit(2);
    }
    const std::string name = arg.substr(2, eq - 2);
    const int value = std::atoi(arg.c_str() + eq + 1);
    if (name == "workers") flags.workers = value;
    else if (name == "trials") flags.trials = value;
    else if (name == "rows") flags.rows = value;
    else if (name == "streams") flags.streams = value;
    else if (name == "stream_rows") flags.stream_rows = value;
    else if (name == "batch_rows") flags.batch_rows = value;
    else { std::fprintf(stderr, "unknown flag --%s\n", name.c_str()); std::exit(2); }
  }
  return flags;
}

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

// Trials are identified by their configuration, so each sweep names its own model.
std::string SweepYaml(const std::string& name, int trials) {
  std::string yaml = "name: " + name + "\nmodels: {" + name + ": /ckpt/" + name +
                     "}\ntasks: {sst2: /data/sst2}\ngrid:\n"
                     "  regularizers: [baseline]\n  seed: [";
  for (int s = 0; s < trials; ++s) yaml += (s == 0 ? "" : ", ") + std::to_string(s);
  return yaml + "]\n";
}

std::unique_ptr<CoordinatorClient> Client(const CoordinatorServer& server) {
  auto client = CoordinatorClient::Connect({.address = server.address(), .token = kToken});
  if (!client.ok()) Die("connect", client.status());
  return std::move(*client);
}

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const size_t k = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[k];
}

// Phase 1: lease -> report -> complete cycles.
void RunCycles(const CoordinatorServer& server, const Flags& flags) {
  auto setup = Client(server);
  if (auto s = setup->SubmitSweep(SweepYaml("cycles", flags.trials), "cycles.yaml"); !s.ok()) {
    Die("submit", s.status());
  }
  std::vector<std::vector<double>> latencies(flags.workers);
  std::atomic<int64_t> cycles{0};
  std::vector<std::thread> threads;
  const Steady::time_point start = Steady::now();
  for (int w = 0; w < flags.workers; ++w) {
    threads.emplace_back([&, w] {
      auto client = Client(server);
      const std::string id = "bench-" + std::to_string(w);
      if (auto r = client->RegisterWorker(id, "localhost", 1); !r.ok()) Die("register", r.status());
      std::vector<db::MetricRow> rows(flags.rows);
      const db::FinalResult result{"validation", "accuracy", 0.5};
      while (true) {
        const Steady::time_point before = Steady::now();
        auto lease = client->LeaseTrial(id, 1, nullptr);
        latencies[w].push_back(Seconds(Steady::now() - before) * 1e3);
        if (!lease.ok()) Die("lease", lease.status());
        if (!lease->has_value()) return;
        const db::Lease& l = **lease;
        for (int k = 0; k < flags.rows; ++k) {
          rows[k] = {.trial_id = l.trial_id, .step = k / 2, .epoch = k / 100.0,
                     .split = k % 2 == 0 ? "train" : "validation", .name = "loss", .value = 1.0 / (k + 1)};
        }
        if (auto s = client->ReportMetrics(l.trial_id, l.fencing_token, rows, {}); !s.ok()) {
          Die("report", s);
        }
        if (auto s = client->CompleteTrial(l.trial_id, l.fencing_token, {&result, 1}); !s.ok()) {
          Die("complete", s);
        }
        cycles.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = Seconds(Steady::now() - start);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf("cycles: %d workers, %lld trials, %d metric rows per cycle, %.2f s\n", flags.workers,
              static_cast<long long>(cycles.load()), flags.rows, elapsed);
  std::printf("cycles_per_second %.1f\n", cycles.load() / elapsed);
  std::printf("cycle_metric_rows_per_second %.0f\n", cycles.load() * flags.rows / elapsed);
  std::printf("lease_latency_ms p50 %.2f p99 %.2f max %.2f (%zu calls)\n", Percentile(all, 0.50),
              Percentile(all, 0.99), all.empty() ? 0.0 : all.back(), all.size());
}

// Phase 2: large batches streamed into SQLite.
void RunStreams(const CoordinatorServer& server, const Flags& flags) {
  auto setup = Client(server);
  if (auto s = setup->SubmitSweep(SweepYaml("streams", flags.streams), "streams.yaml"); !s.ok()) {
    Die("submit", s.status());
  }
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  std::vector<db::Lease> leases;
  std::vector<std::vector<db::MetricRow>> rows(flags.streams);
  for (int k = 0; k < flags.streams; ++k) {
    clients.push_back(Client(server));
    const std::string id = "stream-" + std::to_string(k);
    if (auto r = clients[k]->RegisterWorker(id, "localhost", 1); !r.ok()) Die("register", r.status());
    auto lease = clients[k]->LeaseTrial(id, 1, nullptr);
    if (!lease.ok()) Die("lease", lease.status());
    if (!lease->has_value()) Die("lease", absl::NotFoundError("nothing pending"));
    leases.push_back(**lease);
    rows[k].reserve(flags.stream_rows);
    for (int r = 0; r < flags.stream_rows; ++r) {
      rows[k].push_back({.trial_id = leases[k].trial_id, .step = r / 4, .epoch = r / 4e4,
                         .split = "train", .name = (r % 4 == 0 ? "loss" : r % 4 == 1 ? "lr"
                                                    : r % 4 == 2 ? "grad_norm" : "accuracy"),
                         .value = 1.0 / (r + 1)});
    }
  }
  std::vector<std::thread> threads;
  const Steady::time_point start = Steady::now();
  for (int k = 0; k < flags.streams; ++k) {
    threads.emplace_back([&, k] {
      if (auto s = clients[k]->ReportMetrics(leases[k].trial_id, leases[k].fencing_token, rows[k],
                                             {}, flags.batch_rows);
          !s.ok()) {
        Die("stream", s);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = Seconds(Steady::now() - start);
  const double total = static_cast<double>(flags.streams) * flags.stream_rows;
  std::printf("streams: %d streams x %d rows in batches of %d, %.2f s\n", flags.streams,
              flags.stream_rows, flags.batch_rows, elapsed);
  std::printf("stream_metric_rows_per_second %.0f\n", total / elapsed);
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("istar_coordinator_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto server = CoordinatorServer::Start({.db_path = (dir / "results.db").string(),
                                            .token = kToken,
                                            .lease = {.ttl = std::chrono::minutes(5)},
                                            .max_message_bytes = 16 << 20});
    if (!server.ok()) Die("start", server.status());
    RunCycles(**server, flags);
    RunStreams(**server, flags);
    (*server)->Shutdown(std::chrono::seconds(5));
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace istar::coordinator

int main(int argc, char** argv) { return istar::coordinator::Main(argc, argv); }
