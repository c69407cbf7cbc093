// File: sweeps/internal/random.h
// -----------------------------------------------------------------------------
// The sampler's random numbers, derived from std::mt19937_64 by formulas written out here, so
// that a sampled sweep draws the same trials with every standard library.
//
// Note [Portable random draws]
// The C++ standard fixes mt19937_64's output sequence for a given seed (its 10000th output is
// 9981545732273789042), but not what std::uniform_real_distribution or
// std::uniform_int_distribution make of it: libstdc++, libc++ and MSVC differ. A sweep file must
// name the same trials everywhere, since their ids are what the store deduplicates on. So:
//   Unit():        the top 53 bits of one output, times 2^-53: a double in [0, 1), every value a
//                  multiple of 2^-53 (exact in binary64, no rounding).
//   Index(n):      rejection sampling: draw x until x >= 2^64 mod n, return x mod n. The accepted
//                  range is a whole number of copies of [0, n), so every index is equally likely;
//                  fewer than 1 draw in 2 is rejected for any n.
//   Between(a, b): a + Index(b - a + 1) in unsigned arithmetic; the whole int64 range takes one
//                  raw output.
#ifndef ISTAR_SWEEPS_INTERNAL_RANDOM_H_
#define ISTAR_SWEEPS_INTERNAL_RANDOM_H_

#include <cstdint>
#include <random>

namespace istar::sweeps::internal {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // A double in [0, 1). See Note [Portable random draws].
  double Unit();
  // An integer in [0, n), each equally likely; n >= 1.
  uint64_t Index(uint64_t n);
  // An integer in [low, high], each equally likely; low <= high.
  int64_t Between(int64_t low, int64_t high);

 private:
  std::mt19937_64 engine_;
};

}  // namespace istar::sweeps::internal

#endif  // ISTAR_SWEEPS_INTERNAL_RANDOM_H_
