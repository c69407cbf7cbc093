// File: arrays/internal/elements.h
// -----------------------------------------------------------------------------
// Element encodings shared by the .npy and .safetensors readers: sizes, float16 and bfloat16
// conversion, and decoding or encoding little-endian element bytes. Decoding assembles each value
// from its bytes, so it is correct whatever the host's byte order.
#ifndef ISTAR_ARRAYS_INTERNAL_ELEMENTS_H_
#define ISTAR_ARRAYS_INTERNAL_ELEMENTS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "arrays/array_file.h"

namespace istar::arrays::internal {

// Bytes per element of `dtype`: 2, 2, 4 or 8.
size_t ElementSize(DType dtype);

// The value of an IEEE 754 binary16 bit pattern; subnormals, infinities and NaN included. Exact,
// since every binary16 value is a double.
double HalfToDouble(uint16_t bits);

// The value of a bfloat16 bit pattern (the top 16 bits of a binary32). Exact.
double BFloat16ToDouble(uint16_t bits);

// Decodes the little-endian elements in `bytes` into `out`, which must hold exactly
// bytes.size() / ElementSize(dtype) values (checked: callers size both from one shape).
void DecodeLittleEndian(std::string_view bytes, DType dtype, std::span<double> out);

// Appends `values` to `out` as little-endian kFloat32 (rounded to nearest) or kFloat64 elements.
// Other types are a programming error.
void AppendLittleEndian(std::span<const double> values, DType dtype, std::string* out);

}  // namespace istar::arrays::internal

#endif  // ISTAR_ARRAYS_INTERNAL_ELEMENTS_H_
