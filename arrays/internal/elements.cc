#include "arrays/internal/elements.h"

#include <bit>
#include <cmath>
#include <limits>

#include "base/check.h"

namespace istar::arrays::internal {
namespace {

// Reads an unsigned little-endian integer of sizeof(T) bytes.
template <typename T>
T LoadLittleEndian(const char* p) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return value;
}

template <typename T>
void StoreLittleEndian(T value, std::string* out) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

}  // namespace

size_t ElementSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
  }
  ISTAR_CHECK(false) << "unknown DType " << static_cast<int>(dtype);
  return 0;
}

double HalfToDouble(uint16_t bits) {
  const bool negative = (bits & 0x8000) != 0;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0) {  // Zero or subnormal: mantissa * 2^-24.
    magnitude = std::ldexp(mantissa, -24);
  } else if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else {  // Normal: (1024 + mantissa) * 2^(exponent - 15 - 10).
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return negative ? -magnitude : magnitude;
}

double BFloat16ToDouble(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

void DecodeLittleEndian(std::string_view bytes, DType dtype, std::span<double> out) {
  const size_t size = ElementSize(dtype);
  ISTAR_CHECK(bytes.size() == out.size() * size)
      << bytes.size() << " bytes for " << out.size() << " elements of size " << size;
  const char* p = bytes.data();
  for (double& value : out) {
    switch (dtype) {
      case DType::kFloat16:
        value = HalfToDouble(LoadLittleEndian<uint16_t>(p));
        break;
      case DType::kBFloat16:
        value = BFloat16ToDouble(LoadLittleEndian<uint16_t>(p));
        break;
      case DType::kFloat32:
        value = std::bit_cast<float>(LoadLittleEndian<uint32_t>(p));
        break;
      case DType::kFloat64:
        value = std::bit_cast<double>(LoadLittleEndian<uint64_t>(p));
        break;
    }
    p += size;
  }
}

void AppendLittleEndian(std::span<const double> values, DType dtype, std::string* out) {
  ISTAR_CHECK(dtype == DType::kFloat32 || dtype == DType::kFloat64)
      << "only float32 and float64 can be written, got DType " << static_cast<int>(dtype);
  out->reserve(out->size() + values.size() * ElementSize(dtype));
  for (const double value : values) {
    if (dtype == DType::kFloat32) {
      StoreLittleEndian(std::bit_cast<uint32_t>(static_cast<float>(value)), out);
    } else {
      StoreLittleEndian(std::bit_cast<uint64_t>(value), out);
    }
  }
}

}  // namespace istar::arrays::internal
