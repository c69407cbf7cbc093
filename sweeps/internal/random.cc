#include "sweeps/internal/random.h"

#include "base/check.h"

namespace istar::sweeps::internal {

// See Note [Portable random draws] in random.h for the three formulas.

double Random::Unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

uint64_t Random::Index(uint64_t n) {
  ISTAR_CHECK(n >= 1) << "Index(0)";
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n, computed without 128-bit arithmetic
  uint64_t x = engine_();
  while (x < threshold) x = engine_();
  return x % n;
}

int64_t Random::Between(int64_t low, int64_t high) {
  ISTAR_CHECK(low <= high) << "Between(" << low << ", " << high << ")";
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
  const uint64_t offset = span == 0 ? engine_() : Index(span);  // span 0: all 2^64 values
  return static_cast<int64_t>(static_cast<uint64_t>(low) + offset);
}

}  // namespace istar::sweeps::internal
