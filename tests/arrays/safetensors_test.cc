#include "arrays/safetensors.h"

#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace istar::arrays {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::istar::testing::ScratchDir;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `count` pseudo-random bytes: every bit pattern, NaN payloads included, must survive.
std::vector<std::byte> RandomBytes(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> bytes(count);
  for (std::byte& b : bytes) b = static_cast<std::byte>(rng() & 0xff);
  return bytes;
}

std::vector<std::byte> AsBytes(std::span<const std::byte> span) {
  return {span.begin(), span.end()};
}

// Checks what a successful Open promises, touching every byte of every tensor.
void ExpectTensorsInBounds(const SafetensorsFile& file) {
  const std::span<const std::byte> all = file.bytes();
  std::vector<std::pair<const std::byte*, const std::byte*>> ranges;
  for (const TensorInfo& tensor : file.tensors()) {
    const std::byte* begin = tensor.data.data();
    const std::byte* end = begin + tensor.data.size();
    if (tensor.data.empty()) continue;
    ASSERT_GE(begin, all.data() + 8) << tensor.name;
    ASSERT_LE(end, all.data() + all.size()) << tensor.name;
    // A volatile sink, so that the reads are not optimised away.
    static volatile unsigned sink = 0;
    for (std::byte b : tensor.data) sink = sink + std::to_integer<unsigned>(b);
    ranges.emplace_back(begin, end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) ASSERT_LE(ranges[i - 1].second, ranges[i].first);
}

TEST(SafetensorsRoundTrip, WriteThenOpenIsBitExactForEveryFloatType) {
  ScratchDir dir;
  const std::vector<std::byte> f32 = RandomBytes(4 * 6, 1), f64 = RandomBytes(8 * 3, 2),
                               f16 = RandomBytes(2 * 5, 3), bf16 = RandomBytes(2 * 4, 4);
  const TensorToWrite tensors[] = {
      {.name = "b.half", .dtype = TensorDType::kF16, .shape = {5}, .data = f16},
      {.name = "a.single", .dtype = TensorDType::kF32, .shape = {2, 3}, .data = f32},
      {.name = "c.brain", .dtype = TensorDType::kBF16, .shape = {2, 2}, .data = bf16},
      {.name = "d.double", .dtype = TensorDType::kF64, .shape = {3, 1}, .data = f64},
      {.name = "e.empty", .dtype = TensorDType::kF32, .shape = {0, 7}, .data = {}}};
  const std::string path = dir.Path("t.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {}).ok());

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), 5u);
  EXPECT_EQ((*file)->tensors()[0].name, "a.single");  // Sorted by name.
  for (const TensorToWrite& written : tensors) {
    const TensorInfo* read = (*file)->Find(written.name);
    ASSERT_NE(read, nullptr) << written.name;
    EXPECT_EQ(read->dtype, written.dtype);
    EXPECT_EQ(read->dtype_name, TensorDTypeName(written.dtype));
    EXPECT_EQ(read->shape, written.shape);
    EXPECT_EQ(AsBytes(read->data), AsBytes(written.data)) << written.name;
    // See Note [Safetensors data order]: every tensor is aligned to its element size.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(read->data.data()) % TensorDTypeSize(read->dtype), 0u)
        << written.name;
  }
  EXPECT_EQ((*file)->Find("missing"), nullptr);
  EXPECT_TRUE((*file)->metadata().empty());
}

TEST(SafetensorsRoundTrip, WritesHeaderPaddedToEightBytesWithDataOrderedBySizeThenName) {
  ScratchDir dir;
  const std::vector<std::byte> two = RandomBytes(2, 5), four = RandomBytes(4, 6);
  const TensorToWrite tensors[] = {
      {.name = "a", .dtype = TensorDType::kF16, .shape = {1}, .data = two},
      {.name = "b", .dtype = TensorDType::kF32, .shape = {1}, .data = four}};
  const std::string path = dir.Path("t.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  const std::string bytes = ReadBytes(path);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | uint8_t(bytes[i]);
  EXPECT_EQ(length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + length + 6);
  EXPECT_EQ(bytes.substr(8, length).find_last_not_of(' ') + 1,
            std::string(R"({"__metadata__":{"format":"pt"},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F16","shape":[1],"data_offsets":[4,6]}})")
                .size());
  EXPECT_THAT(bytes.substr(8, length), HasSubstr(R"("a":{"dtype":"F16","shape":[1],)"
                                                 R"("data_offsets":[4,6]})"));
}

TEST(SafetensorsRoundTrip, MetadataSurvives) {
  ScratchDir dir;
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "é \"q\""}};
  const std::string path = dir.Path("m.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {}, metadata).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata(), metadata);
  EXPECT_TRUE((*file)->tensors().empty());
}

TEST(SafetensorsWriter, ReplacesAnExistingFileAndLeavesNoTemporaryBehind) {
  ScratchDir dir;
  const std::string path = dir.Write("x.safetensors", "old contents");
  ASSERT_TRUE(WriteSafetensors(path, {}, {{"k", "v"}}).ok());
  EXPECT_NE(ReadBytes(path), "old contents");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.dir()), {}), 1);
}

TEST(SafetensorsWriter, RejectsDataThatDoesNotMatchTheShape) {
  ScratchDir dir;
  const std::vector<std::byte> data = RandomBytes(12, 7);
  const TensorToWrite tensors[] = {
      {.name = "w", .dtype = TensorDType::kF32, .shape = {2, 2}, .data = data}};
  const absl::Status status = WriteSafetensors(dir.Path("w.safetensors"), tensors, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tensor 'w': shape (2, 2) of F32 does not match 12"));
  EXPECT_FALSE(std::filesystem::exists(dir.Path("w.safetensors")));
}

TEST(SafetensorsWriter, RejectsRepeatedNames) {
  ScratchDir dir;
  const TensorToWrite tensors[] = {{.name = "w", .shape = {0}}, {.name = "w", .shape = {0}}};
  EXPECT_EQ(WriteSafetensors(dir.Path("w.safetensors"), tensors, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsWriter, UnwritableDirectoryIsInternalWithTheOsError) {
  const absl::Status status = WriteSafetensors("/nonexistent-dir/w.safetensors", {}, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file or directory"));
}

TEST(SafetensorsFile, MissingFileIsNotFound) {
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent/model.safetensors").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SafetensorsFile, UnknownDtypeIsListedWithItsBytesUnchecked) {
  const std::string header = R"({"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::FromBytes("mem", bytes + header + "ab");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->tensors()[0].dtype, TensorDType::kUnknown);
  EXPECT_EQ((*file)->tensors()[0].dtype_name, "F4");
}

// A valid file of three tensors, written by WriteSafetensors, as bytes.
std::string ValidFileBytes(const ScratchDir& dir) {
  static const std::vector<std::byte> a = RandomBytes(4 * 6, 8), b = RandomBytes(2 * 3, 9),
                                      c = RandomBytes(8 * 2, 10);
  const TensorToWrite tensors[] = {
      {.name = "a", .dtype = TensorDType::kF32, .shape = {2, 3}, .data = a},
      {.name = "b", .dtype = TensorDType::kBF16, .shape = {3}, .data = b},
      {.name = "c", .dtype = TensorDType::kF64, .shape = {1, 2}, .data = c}};
  const std::string path = dir.Path("valid.safetensors");
  EXPECT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  return ReadBytes(path);
}

// Replaces the first occurrence of `from` in `bytes` (which must contain it) by `to`.
std::string Replace(std::string bytes, std::string_view from, std::string_view to) {
  const size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return bytes.substr(0, at) + std::string(to) + bytes.substr(at + from.size());
}

TEST(SafetensorsFile, MalformedFilesAreInvalidArgumentNamingTheFile) {
  ScratchDir dir;
  const std::string valid = ValidFileBytes(dir);
  const std::pair<std::string, std::string> cases[] = {
      {valid.substr(0, valid.size() - 1), "run past the end"},  // Truncated data.
      {valid.substr(0, 20), "exceeds the file size"},           // Truncated header.
      {Replace(valid, "\"data_offsets\":[16,40]", "\"data_offsets\":[12,36]"), "overlap"},
      {std::string(1, static_cast<char>(valid[0] + 8)) + valid.substr(1), "not valid JSON"},
      {Replace(valid, "\"shape\":[2,3]", "\"shape\":[3,3]"), "does not fill"},
      {Replace(valid, "\"format\":\"pt\"", "\"format\":1234"), "is not a string"},
      // nlohmann::json throws out_of_range, not parse_error, for this (found by the fuzzer).
      {Replace(valid, "\"shape\":[2,3]", "\"shape\":[2e999]"), "not valid JSON"}};
  for (const auto& [bytes, message] : cases) {
    const std::string path = dir.Write("bad.safetensors", bytes);
    const absl::Status status = SafetensorsFile::Open(path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message << ": " << status;
    EXPECT_THAT(std::string(status.message()), AllOf(HasSubstr(path + ": "), HasSubstr(message)));
  }
}

TEST(SafetensorsFile, EveryCorruptionOfAValidFileIsAnErrorOrStaysInBounds) {
  ScratchDir dir;
  const std::string valid = ValidFileBytes(dir);
  std::mt19937 rng(20260101);
  int opened = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = valid;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:  // A digit, so that numbers in the header change but stay numbers.
          bytes[at] = static_cast<char>('0' + rng() % 10);
          break;
        case 1:
          bytes[at] = static_cast<char>(rng() & 0xff);
          break;
        case 2:
          bytes.resize(at);
          break;
        default:
          bytes = bytes.substr(0, at) + static_cast<char>(rng() & 0xff) + bytes.substr(at);
      }
      if (bytes.empty()) break;
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::FromBytes("corrupt", bytes);
    if (!file.ok()) {
      ASSERT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
      continue;
    }
    ++opened;
    ExpectTensorsInBounds(**file);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(opened, 0);  // Some mutations (in the data) leave a valid file.
}

// The tiny BERT checkpoint in the shared data folder (see its SOURCES.md): 21 F32 tensors.
TEST(SafetensorsFile, OpensTheTinyBertCheckpoint) {
  const std::string path =
      std::string(ISTAR_SHARED_DATA_DIR) + "/tiny-bert-jammi/model.safetensors";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), 21u);
  for (const TensorInfo& tensor : (*file)->tensors()) EXPECT_EQ(tensor.dtype, TensorDType::kF32);
  const std::pair<std::string, std::vector<uint64_t>> expected[] = {
      {"embeddings.word_embeddings.weight", {256, 32}},
      {"embeddings.position_embeddings.weight", {128, 32}},
      {"embeddings.token_type_embeddings.weight", {2, 32}},
      {"embeddings.LayerNorm.weight", {32}},
      {"encoder.layer.0.attention.self.query.weight", {32, 32}},
      {"encoder.layer.0.attention.output.LayerNorm.bias", {32}},
      {"encoder.layer.0.intermediate.dense.weight", {128, 32}},
      {"encoder.layer.0.output.dense.weight", {32, 128}},
      {"encoder.layer.0.output.dense.bias", {32}}};
  for (const auto& [name, shape] : expected) {
    const TensorInfo* tensor = (*file)->Find(name);
    ASSERT_NE(tensor, nullptr) << name;
    EXPECT_EQ(tensor->shape, shape) << name;
  }
  ExpectTensorsInBounds(**file);
}

}  // namespace
}  // namespace istar::arrays
