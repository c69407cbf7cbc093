// A libFuzzer target for the sweep-file loader (sweeps/sweep.h): every input must either be
// rejected with InvalidArgument (or, for a grid of a million trials, be cut short there) or
// expand to trials whose ids are 64 lower-case hex digits and whose canonical JSON parses and
// has sorted keys. Built and run by fuzz/run.sh; seeds are examples/*.yaml.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "sweeps/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return -1;  // the shape of a file matters, not its length
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<istar::sweeps::SweepSpec> sweep = istar::sweeps::ParseSweep(yaml, "fuzz");
  if (!sweep.ok()) {
    if (!absl::IsInvalidArgument(sweep.status())) std::abort();  // a bad file is bad input
    return 0;
  }
  for (const istar::sweeps::TrialSpec& trial : sweep->trials) {
    if (trial.id.size() != 64 || !std::all_of(trial.id.begin(), trial.id.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      std::abort();
    }
    const nlohmann::json canonical = nlohmann::json::parse(trial.canonical_json, nullptr, false);
    if (canonical.is_discarded() || canonical.dump() != trial.canonical_json) std::abort();
  }
  return 0;
}
