// A libFuzzer target for the .safetensors parser (arrays/safetensors.h): every input must either
// be rejected with a Status or open as a file whose tensors' bytes all lie inside the input.
// It opens the input in memory (SafetensorsFile::FromBytes), which runs the same parser as Open.
//
// Build and run from the repository root (no CMake target; clang 14, libFuzzer, ASan, UBSan):
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/safetensors_fuzzer.cc arrays/safetensors.cc arrays/internal/*.cc arrays/array_file.cc \
//     base/check.cc -labsl_status -labsl_statusor -labsl_strings -labsl_str_format_internal \
//     -labsl_cord -labsl_cord_internal -labsl_cordz_info -labsl_cordz_functions \
//     -labsl_cordz_handle -labsl_exponential_biased -labsl_synchronization -labsl_time \
//     -labsl_int128 -labsl_strings_internal -labsl_raw_logging_internal -labsl_throw_delegate \
//     -labsl_base -labsl_spinlock_wait -labsl_malloc_internal -labsl_stacktrace \
//     -labsl_symbolize -labsl_debugging_internal -labsl_demangle_internal -labsl_time_zone \
//     -o /tmp/safetensors_fuzzer
//   mkdir -p /tmp/safetensors_corpus && /tmp/safetensors_fuzzer -max_total_time=60 \
//     -max_len=4096 /tmp/safetensors_corpus ../shared/data/tiny-bert-jammi
//
// (-max_len keeps the 100 KB checkpoint seed from setting the input size limit: the header is
// its first 2 KB, and short inputs run ~10,000 times a second.) Its first run found that a
// number too large for JSON ("16e640") threw nlohmann's out_of_range past the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "arrays/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<std::unique_ptr<istar::arrays::SafetensorsFile>> file =
      istar::arrays::SafetensorsFile::FromBytes(
          "fuzz", std::string(reinterpret_cast<const char*>(data), size));
  if (!file.ok()) {
    // A malformed file is bad input: InvalidArgument, never anything else.
    if (file.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const std::span<const std::byte> all = (*file)->bytes();
  unsigned sum = 0;
  for (const istar::arrays::TensorInfo& tensor : (*file)->tensors()) {
    const size_t element = istar::arrays::TensorDTypeSize(tensor.dtype);
    if (tensor.data.empty()) continue;
    if (tensor.data.data() < all.data() + 8 ||
        tensor.data.data() + tensor.data.size() > all.data() + all.size() ||
        (element != 0 && tensor.data.size() % element != 0)) {
      std::abort();
    }
    // ASan reports a read outside the (heap-allocated) input.
    for (std::byte b : tensor.data) sum += std::to_integer<unsigned>(b);
  }
  for (const auto& [key, value] : (*file)->metadata()) sum += key.size() + value.size();
  return static_cast<int>(sum & 0);
}
