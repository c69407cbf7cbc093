#include "arrays/array_file.h"

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace istar::arrays {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using ::istar::testing::ScratchDir;

// `bits` as `size` little-endian bytes: how .npy and .safetensors store every element.
std::string Le(uint64_t bits, int size) {
  std::string bytes;
  for (int i = 0; i < size; ++i) bytes.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  return bytes;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A 2 x 3 '<f8' array exactly as numpy.save writes it: magic, version 1.0, header length 118
// (0x76), then the header padded with spaces to 128 bytes in all, then the data. The values,
// 1.0 -0.5 2.0 / 1.5 3.0 -4.0, are spelled as IEEE 754 bit patterns.
std::string Reference2x3Float64Npy() {
  return std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
         "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') +
         "\n" + Le(0x3FF0000000000000, 8) + Le(0xBFE0000000000000, 8) + Le(0x4000000000000000, 8) +
         Le(0x3FF8000000000000, 8) + Le(0x4008000000000000, 8) + Le(0xC010000000000000, 8);
}

// A version 1.0 .npy file with header `dict` (padded as NumPy pads it) and `data`.
std::string Npy(std::string_view dict, std::string_view data) {
  std::string header(dict);
  header.append(63 - (10 + header.size()) % 64, ' ');
  header.push_back('\n');
  return std::string("\x93NUMPY\x01\x00", 8) + Le(header.size(), 2) + header + std::string(data);
}

TEST(NpyReader, ReadsFloat64COrder) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("a.npy", Reference2x3Float64Npy()));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 3);
  EXPECT_EQ(m->values, (std::vector<double>{1.0, -0.5, 2.0, 1.5, 3.0, -4.0}));
  EXPECT_EQ(m->at(1, 2), -4.0);
}

TEST(NpyReader, ReadsFloat32) {
  ScratchDir dir;
  const std::string data = Le(0x3F800000, 4) + Le(0xC0200000, 4) + Le(0x3DCCCCCD, 4) +
                           Le(0x477FE000, 4) + Le(0x7F800000, 4) + Le(0x00000001, 4);
  absl::StatusOr<Matrix> m = ReadMatrix(
      dir.Write("b.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", data)));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 3);
  EXPECT_EQ(m->cols, 2);
  EXPECT_EQ(m->values,
            (std::vector<double>{1.0, -2.5, 0.100000001490116119384765625, 65504.0,
                                 std::numeric_limits<double>::infinity(), std::ldexp(1.0, -149)}));
}

TEST(NpyReader, ReadsVersion2And3HeadersWithLooseSpacing) {
  ScratchDir dir;
  const std::string header = "{ 'descr':'<f4' ,\t'fortran_order':False,'shape':(2,2,),}\n";
  const std::string data =
      Le(0x3F800000, 4) + Le(0x40000000, 4) + Le(0x40400000, 4) + Le(0x40800000, 4);
  for (const char version : {'\x02', '\x03'}) {
    const std::string bytes =
        std::string("\x93NUMPY", 6) + version + '\0' + Le(header.size(), 4) + header + data;
    absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("v.npy", bytes));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->values, (std::vector<double>{1.0, 2.0, 3.0, 4.0}));
  }
}

TEST(NpyReader, AcceptsNativeAndNotApplicableByteOrderMarks) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(
      dir.Write("n.npy", Npy("{'descr': '=f8', 'fortran_order': False, 'shape': (1, 1), }",
                             Le(0x3FF8000000000000, 8))));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->at(0, 0), 1.5);
  m = ReadMatrix(dir.Write("p.npy", Npy("{\"descr\": \"|f4\", \"fortran_order\": False, "
                                        "\"shape\": (1L, 1L)}",
                                        Le(0x3FC00000, 4))));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->at(0, 0), 1.5);
}

TEST(NpyReader, FoldsLeadingDimensionsIntoRows) {
  ScratchDir dir;
  std::string data;
  for (int i = 0; i < 8; ++i) data += Le(std::bit_cast<uint64_t>(double{1.0 * i}), 8);
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write(
      "r.npy", Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", data)));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 4);
  EXPECT_EQ(m->cols, 2);
  EXPECT_EQ(m->at(3, 1), 7.0);
}

TEST(NpyReader, ReturnsZeroRowsForZeroSizedDimension) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(
      dir.Write("z.npy", Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", "")));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 0);
  EXPECT_EQ(m->cols, 3);
  EXPECT_TRUE(m->values.empty());
}

// Each malformed file: the header dict, the data, and what the message must say.
struct BadNpy {
  std::string name;
  std::string bytes;
  std::string message;
};

// Names the case in test listings (gtest would otherwise print the struct's raw bytes).
void PrintTo(const BadNpy& bad, std::ostream* os) { *os << bad.name; }

class MalformedNpy : public ::testing::TestWithParam<BadNpy> {};

TEST_P(MalformedNpy, IsInvalidArgumentNamingTheFile) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("cloud.npy", GetParam().bytes));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
  EXPECT_THAT(m.status().message(), AllOf(HasSubstr("cloud.npy: "), HasSubstr(GetParam().message)));
}

std::string Header(std::string_view descr, std::string_view fortran, std::string_view shape) {
  return std::string("{'descr': '") + std::string(descr) +
         "', 'fortran_order': " + std::string(fortran) + ", 'shape': " + std::string(shape) + ", }";
}

INSTANTIATE_TEST_SUITE_P(
    NpyReader, MalformedNpy,
    ::testing::Values(
        BadNpy{"Rank1", Npy(Header("<f8", "False", "(5,)"), std::string(40, '\0')),
               "expected an array of rank >= 2, got shape (5)"},
        BadNpy{"Rank0", Npy(Header("<f8", "False", "()"), std::string(8, '\0')), "shape ()"},
        BadNpy{"Int64", Npy(Header("<i8", "False", "(1, 1)"), std::string(8, '\0')),
               "unsupported dtype '<i8' (expected '<f4' or '<f8')"},
        BadNpy{"BigEndian", Npy(Header(">f8", "False", "(1, 1)"), std::string(8, '\0')),
               "big-endian dtype '>f8'"},
        BadNpy{"Fortran", Npy(Header("<f8", "True", "(1, 1)"), std::string(8, '\0')),
               "fortran_order True is not supported"},
        BadNpy{"ShortData", Npy(Header("<f8", "False", "(2, 2)"), std::string(31, '\0')),
               "shape (2, 2) needs 4 elements of 8 bytes, but the file has 31 bytes"},
        BadNpy{"LongData", Npy(Header("<f4", "False", "(2, 2)"), std::string(17, '\0')),
               "the file has 17 bytes"},
        BadNpy{"OverflowingShape",
               Npy(Header("<f8", "False", "(4294967296, 4294967296, 4294967296, 2)"), ""),
               "is too large"},
        BadNpy{"MissingShape", Npy("{'descr': '<f8', 'fortran_order': False}", ""),
               "missing key 'shape'"},
        BadNpy{"StructuredDtype",
               Npy("{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1, 1)}", ""),
               "expected a quoted string"},
        BadNpy{"NegativeDimension", Npy(Header("<f8", "False", "(-1, 2)"), ""),
               "expected a non-negative integer"},
        BadNpy{"BadMagic", std::string("\x93NUMPX\x01\x00\x00\x00", 10), "magic string"},
        BadNpy{"Version4", std::string("\x93NUMPY\x04\x00\x00\x00", 10), "version 4.0"},
        BadNpy{"TooShort", std::string("\x93NUMPY", 6), "too short"},
        BadNpy{"HeaderPastEnd", std::string("\x93NUMPY\x01\x00\xff\xff{}", 12),
               "header length 65535 runs past the end of the file (12 bytes)"}),
    [](const auto& info) { return info.param.name; });

TEST(NpyWriter, WritesWhatNumpySaveWrites) {
  ScratchDir dir;
  const Matrix m{.rows = 2, .cols = 3, .values = {1.0, -0.5, 2.0, 1.5, 3.0, -4.0}};
  ASSERT_TRUE(WriteNpy(dir.Path("w.npy"), m, DType::kFloat64).ok());
  EXPECT_EQ(ReadBytes(dir.Path("w.npy")), Reference2x3Float64Npy());
}

TEST(NpyWriter, PadsHeaderToMultipleOf64Bytes) {
  ScratchDir dir;
  for (const int64_t cols : {0L, 7L, 123456789012345L, std::numeric_limits<int64_t>::max()}) {
    ASSERT_TRUE(WriteNpy(dir.Path("e.npy"), Matrix{.rows = 0, .cols = cols, .values = {}}).ok());
    const std::string bytes = ReadBytes(dir.Path("e.npy"));
    EXPECT_EQ(bytes.size() % 64, 0u) << cols;
    EXPECT_EQ(bytes.back(), '\n');
    absl::StatusOr<Matrix> m = ReadMatrix(dir.Path("e.npy"));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->cols, cols);
  }
}

TEST(NpyWriter, RoundTripsFloat64Exactly) {
  ScratchDir dir;
  const double inf = std::numeric_limits<double>::infinity();
  const Matrix m{.rows = 3, .cols = 2, .values = {0.1, -0.0, 1e-310, inf, -inf, 1e300}};
  ASSERT_TRUE(WriteNpy(dir.Path("f8.npy"), m, DType::kFloat64).ok());
  absl::StatusOr<Matrix> back = ReadMatrix(dir.Path("f8.npy"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, 3);
  EXPECT_EQ(back->cols, 2);
  EXPECT_EQ(back->values, m.values);
  EXPECT_TRUE(std::signbit(back->at(0, 1)));
}

TEST(NpyWriter, RoundTripsFloat32RoundedToNearest) {
  ScratchDir dir;
  const Matrix m{.rows = 1, .cols = 3, .values = {0.1, -2.5, std::nan("")}};
  ASSERT_TRUE(WriteNpy(dir.Path("f4.npy"), m).ok());
  const std::string bytes = ReadBytes(dir.Path("f4.npy"));
  EXPECT_EQ(bytes.size(), 128u + 12u);
  EXPECT_EQ(bytes.substr(128, 8), Le(0x3DCCCCCD, 4) + Le(0xC0200000, 4));
  absl::StatusOr<Matrix> back = ReadMatrix(dir.Path("f4.npy"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->at(0, 0), 0.100000001490116119384765625);
  EXPECT_EQ(back->at(0, 1), -2.5);
  EXPECT_TRUE(std::isnan(back->at(0, 2)));
}

TEST(NpyWriter, RejectsValueCountThatDoesNotMatchShape) {
  ScratchDir dir;
  const absl::Status status =
      WriteNpy(dir.Path("x.npy"), Matrix{.rows = 2, .cols = 2, .values = {1, 2, 3}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_FALSE(std::filesystem::exists(dir.Path("x.npy")));
}

TEST(NpyWriter, ReportsOsErrorAsInternal) {
  ScratchDir dir;
  const absl::Status status = WriteNpy(dir.Path("no/such/dir/x.npy"), Matrix{});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), AllOf(HasSubstr("x.npy"), HasSubstr("No such file or directory")));
}

// A .safetensors file: the 8-byte little-endian header length, `header` padded with spaces to a
// multiple of 8 bytes as the format's writers do, then `data`.
std::string Safetensors(std::string header, std::string_view data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return Le(header.size(), 8) + header + std::string(data);
}

// F16, BF16 and F64 values chosen to be exact in each type, spelled as bit patterns: 1.5, -2.0,
// 0.333251953125 (F16 0x3555), 2^-24 (the smallest F16 subnormal), 65504 (the largest F16),
// -infinity; in BF16 1.5, -2.0, 0.333984375 (0x3EAB); in F64 0.1 and 0.333251953125.
std::string MixedSafetensors() {
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("half":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
                             R"("brain":{"dtype":"BF16","shape":[1,3],"data_offsets":[12,18]},)"
                             R"("double":{"dtype":"F64","shape":[2,1,1],"data_offsets":[18,34]},)"
                             R"("ids":{"dtype":"I64","shape":[1,1],"data_offsets":[34,42]}})";
  const std::string data = Le(0x3E00, 2) + Le(0xC000, 2) + Le(0x3555, 2) + Le(0x0001, 2) +
                           Le(0x7BFF, 2) + Le(0xFC00, 2) + Le(0x3FC0, 2) + Le(0xC000, 2) +
                           Le(0x3EAB, 2) + Le(0x3FB999999999999A, 8) + Le(0x3FD5540000000000, 8) +
                           Le(7, 8);
  return Safetensors(header, data);
}

absl::StatusOr<Matrix> ReadTensor(const std::string& path, const std::string& name) {
  return ReadMatrix(path, {.tensor_name = name});
}

TEST(SafetensorsReader, ReadsFloat16BFloat16AndFloat64Exactly) {
  ScratchDir dir;
  const std::string path = dir.Write("mixed.safetensors", MixedSafetensors());
  absl::StatusOr<Matrix> half = ReadTensor(path, "half");
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->rows, 2);
  EXPECT_EQ(half->cols, 3);
  EXPECT_EQ(half->values, (std::vector<double>{1.5, -2.0, 0.333251953125, std::ldexp(1.0, -24),
                                               65504.0, -std::numeric_limits<double>::infinity()}));
  absl::StatusOr<Matrix> brain = ReadTensor(path, "brain");
  ASSERT_TRUE(brain.ok()) << brain.status();
  EXPECT_EQ(brain->values, (std::vector<double>{1.5, -2.0, 0.333984375}));
  absl::StatusOr<Matrix> dbl = ReadTensor(path, "double");
  ASSERT_TRUE(dbl.ok()) << dbl.status();
  EXPECT_EQ(dbl->rows, 2);
  EXPECT_EQ(dbl->cols, 1);
  EXPECT_EQ(dbl->values, (std::vector<double>{0.1, 0.333251953125}));
}

TEST(SafetensorsReader, RejectsTensorOfUnsupportedDtype) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadTensor(dir.Write("mixed.safetensors", MixedSafetensors()), "ids");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), AllOf(HasSubstr("mixed.safetensors: tensor 'ids'"),
                                          HasSubstr("unsupported dtype I64")));
}

TEST(SafetensorsReader, NeedsTensorNameWhenFileHoldsSeveral) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("mixed.safetensors", MixedSafetensors()));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(),
              HasSubstr("holds 4 tensors; set tensor_name to one of: brain, double, half, ids"));
}

TEST(SafetensorsReader, ReadsSoleTensorWithoutName) {
  ScratchDir dir;
  const std::string path = dir.Write(
      "one.safetensors",
      Safetensors(R"({"__metadata__":{},"x":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})",
                  Le(0x3F800000, 4) + Le(0xBF800000, 4)));
  absl::StatusOr<Matrix> m = ReadMatrix(path);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->values, (std::vector<double>{1.0, -1.0}));
}

struct BadSafetensors {
  std::string name;
  std::string bytes;
  std::string message;
};

void PrintTo(const BadSafetensors& bad, std::ostream* os) { *os << bad.name; }

class MalformedSafetensors : public ::testing::TestWithParam<BadSafetensors> {};

TEST_P(MalformedSafetensors, IsInvalidArgumentNamingTheFile) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadTensor(dir.Write("bad.safetensors", GetParam().bytes), "t");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
  EXPECT_THAT(m.status().message(),
              AllOf(HasSubstr("bad.safetensors: "), HasSubstr(GetParam().message)));
}

// A file whose one tensor "t" has the given JSON entry and `size` bytes of data.
std::string OneTensor(std::string_view entry, size_t size) {
  return Safetensors(std::string(R"({"t":)") + std::string(entry) + "}", std::string(size, '\0'));
}

INSTANTIATE_TEST_SUITE_P(
    SafetensorsReader, MalformedSafetensors,
    ::testing::Values(
        BadSafetensors{"ShorterThanLengthField", std::string("\x10\0\0", 3), "too short"},
        BadSafetensors{"HeaderLengthPastEof", Le(1000, 8) + "{}", "header length 1000 exceeds"},
        BadSafetensors{"HugeHeaderLength", Le(~uint64_t{0}, 8) + "{}", "exceeds the file size"},
        BadSafetensors{"NotJson", Safetensors("{not json", ""), "header is not valid JSON"},
        BadSafetensors{"NotObject", Safetensors("[1, 2]", ""), "header is not a JSON object"},
        BadSafetensors{"EntryNotObject", OneTensor("5", 0), "tensor 't': entry is not"},
        BadSafetensors{"MissingDtype", OneTensor(R"({"shape":[1],"data_offsets":[0,4]})", 4),
                       "'dtype' is missing"},
        BadSafetensors{"NegativeShape",
                       OneTensor(R"({"dtype":"F32","shape":[-1,1],"data_offsets":[0,4]})", 4),
                       "'shape' is missing or not an array of non-negative integers"},
        BadSafetensors{"FractionalShape",
                       OneTensor(R"({"dtype":"F32","shape":[1.5,2],"data_offsets":[0,4]})", 4),
                       "'shape'"},
        BadSafetensors{"ThreeOffsets",
                       OneTensor(R"({"dtype":"F32","shape":[1,1],"data_offsets":[0,4,8]})", 8),
                       "'data_offsets' is missing or not two"},
        BadSafetensors{"OffsetsOutOfBounds",
                       OneTensor(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})", 8),
                       "run past the end of the 8-byte data buffer"},
        BadSafetensors{"ReversedOffsets",
                       OneTensor(R"({"dtype":"F32","shape":[0,2],"data_offsets":[8,0]})", 8),
                       "are reversed"},
        BadSafetensors{"ShapeDoesNotFillBytes",
                       OneTensor(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})", 12),
                       "shape (2, 2) of F32 does not fill data_offsets [0, 12] (12 bytes)"},
        BadSafetensors{"ShapeProductOverflows",
                       OneTensor(R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],)"
                                 R"("data_offsets":[0,8]})",
                                 8),
                       "does not fill"},
        BadSafetensors{"OverlappingOffsets",
                       Safetensors(R"({"s":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},)"
                                   R"("t":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})",
                                   std::string(12, '\0')),
                       "tensors 't' [0, 8) and 's' [4, 12) overlap"}),
    [](const auto& info) { return info.param.name; });

// The tiny BERT checkpoint in the shared data folder (see its SOURCES.md): 21 F32 tensors.
class TinyBertSafetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::string(ISTAR_SHARED_DATA_DIR) + "/tiny-bert-jammi/model.safetensors";
    if (!std::filesystem::exists(path_)) GTEST_SKIP() << path_ << " is missing";
  }
  std::string path_;
};

TEST_F(TinyBertSafetensors, ReadsEmbeddingMatricesWithTheirShapes) {
  absl::StatusOr<Matrix> words = ReadTensor(path_, "embeddings.word_embeddings.weight");
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(words->rows, 256);
  EXPECT_EQ(words->cols, 32);
  absl::StatusOr<Matrix> positions = ReadTensor(path_, "embeddings.position_embeddings.weight");
  ASSERT_TRUE(positions.ok()) << positions.status();
  EXPECT_EQ(positions->rows, 128);
  EXPECT_EQ(positions->cols, 32);
  absl::StatusOr<Matrix> dense = ReadTensor(path_, "encoder.layer.0.output.dense.weight");
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(dense->rows, 32);
  EXPECT_EQ(dense->cols, 128);
}

TEST_F(TinyBertSafetensors, ReadsTheBytesAtTheTensorsOffsets) {
  // The word embeddings occupy data_offsets [16896, 49664] of the data buffer, which starts after
  // the 8-byte length and the header; check the first and last values against those bytes.
  const std::string bytes = ReadBytes(path_);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = header_length << 8 | uint8_t(bytes[i]);
  const auto float_at = [&](uint64_t offset) {
    uint32_t bits = 0;
    for (int i = 3; i >= 0; --i) bits = bits << 8 | uint8_t(bytes[8 + header_length + offset + i]);
    return double{std::bit_cast<float>(bits)};
  };
  ASSERT_EQ(bytes.size(), 8 + header_length + 100480);
  absl::StatusOr<Matrix> words = ReadTensor(path_, "embeddings.word_embeddings.weight");
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(words->at(0, 0), float_at(16896));
  EXPECT_EQ(words->at(255, 31), float_at(49664 - 4));
  EXPECT_NE(words->at(0, 0), words->at(255, 31));
}

TEST_F(TinyBertSafetensors, RejectsRank1Tensor) {
  absl::StatusOr<Matrix> m = ReadTensor(path_, "embeddings.LayerNorm.weight");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(),
              AllOf(HasSubstr("model.safetensors: tensor 'embeddings.LayerNorm.weight'"),
                    HasSubstr("expected an array of rank >= 2, got shape (32)")));
}

TEST_F(TinyBertSafetensors, ListsTensorNamesWhenNameIsUnknown) {
  absl::StatusOr<Matrix> m = ReadTensor(path_, "bert.embeddings.word_embeddings.weight");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(),
              AllOf(HasSubstr("no tensor named 'bert.embeddings.word_embeddings.weight'"),
                    HasSubstr("embeddings.word_embeddings.weight, "), HasSubstr("(1 more)")));
}

TEST(CsvReader, ReadsRowsWithoutHeader) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("p.csv", "1,2.5,-3\n4e2,0.125,6\n"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 3);
  EXPECT_EQ(m->values, (std::vector<double>{1, 2.5, -3, 400, 0.125, 6}));
}

TEST(CsvReader, SkipsHeaderLine) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("h.csv", "x,y\n1,2\n3,4"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->values, (std::vector<double>{1, 2, 3, 4}));
}

TEST(CsvReader, ToleratesSpacesCrlfBlankLinesAndNonFiniteValues) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m =
      ReadMatrix(dir.Write("s.csv", "\r\n  a , b \r\n\r\n 1 ,\t+2 \r\n   \r\nnan, -inf\r\n"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 2);
  EXPECT_EQ(m->at(0, 0), 1.0);
  EXPECT_EQ(m->at(0, 1), 2.0);
  EXPECT_TRUE(std::isnan(m->at(1, 0)));
  EXPECT_EQ(m->at(1, 1), -std::numeric_limits<double>::infinity());
}

TEST(CsvReader, ReportsRaggedRowWithItsLineNumber) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("points.csv", "1,2,3\n4,5,6\n7,8\n"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("points.csv:3: expected 3 values, got 2"));
}

TEST(CsvReader, ReportsNonNumericValueWithLineAndColumn) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("points.csv", "a,b\n1, 2\n3, x4\n"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("points.csv:3:4: expected a number, got 'x4'"));
}

TEST(CsvReader, ReportsHeaderWhoseFieldCountDiffersFromData) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("h.csv", "x,y\n\n1,2,3\n"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(),
              HasSubstr("h.csv:3: expected 2 values, got 3 (the header on line 1 has 2 fields)"));
}

TEST(CsvReader, ReportsNumberBeyondDoubleRangeRatherThanTakingItAsHeader) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("big.csv", "1,1e400\n"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("big.csv:1:3: number out of the range of a double"));
}

TEST(CsvReader, RejectsFileWithoutRows) {
  ScratchDir dir;
  for (const std::string_view contents : {"", "\n\n", "x,y\n"}) {
    absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("e.csv", contents));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(m.status().message(), HasSubstr("e.csv: no rows"));
  }
}

TEST(ReadMatrix, MissingFileIsNotFound) {
  ScratchDir dir;
  for (const char* name : {"absent.npy", "absent.safetensors", "absent.csv"}) {
    absl::StatusOr<Matrix> m = ReadMatrix(dir.Path(name));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound) << name;
    EXPECT_THAT(m.status().message(), HasSubstr(name));
  }
}

TEST(ReadMatrix, UnknownExtensionIsInvalidArgument) {
  ScratchDir dir;
  absl::StatusOr<Matrix> m = ReadMatrix(dir.Write("points.txt", "1,2\n"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(),
              AllOf(HasSubstr("points.txt"), HasSubstr(".npy, .safetensors or .csv")));
}

TEST(ReadMatrix, ChoosesFormatByExtensionIgnoringCase) {
  ScratchDir dir;
  absl::StatusOr<Matrix> csv = ReadMatrix(dir.Write("P.CSV", "1,2\n"));
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->cols, 2);
  absl::StatusOr<Matrix> npy = ReadMatrix(dir.Write("A.Npy", Reference2x3Float64Npy()));
  ASSERT_TRUE(npy.ok()) << npy.status();
  EXPECT_EQ(npy->cols, 3);
}

}  // namespace
}  // namespace istar::arrays
