// A libFuzzer target for config.json (models/config.h): every input must either be rejected
// with a Status or give a configuration that ModelConfigToJson writes back to the same
// configuration (the round trip the header promises). Built and run by fuzz/run.sh; seeds are
// the config.json files of ../shared/data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return -1;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<istar::models::ModelConfig> config =
      istar::models::ParseModelConfig(text, "config.json");
  if (!config.ok()) return 0;
  const absl::StatusOr<istar::models::ModelConfig> again =
      istar::models::ParseModelConfig(istar::models::ModelConfigToJson(*config), "again");
  if (!again.ok() || !(*again == *config)) std::abort();
  return 0;
}
