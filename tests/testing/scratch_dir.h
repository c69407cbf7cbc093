// File: tests/testing/scratch_dir.h
// -----------------------------------------------------------------------------
// A fresh directory for one test, under the system temp directory, named after the running test
// and the process (so parallel ctest runs never share one), removed with its contents at scope
// exit. Shared by the test suites of every module that writes files.
//
// Example:
//
//   ScratchDir dir;
//   const std::string path = dir.Write("cloud.csv", "1,2\n3,4\n");
//   EXPECT_TRUE(ReadMatrix(path).ok());
#ifndef ISTAR_TESTS_TESTING_SCRATCH_DIR_H_
#define ISTAR_TESTS_TESTING_SCRATCH_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <gtest/gtest.h>

namespace istar::testing {

class ScratchDir {
 public:
  ScratchDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("istar_") + test->test_suite_name() + "_" + test->name() +
                       "_" + std::to_string(::getpid());
    for (char& c : name) {
      if (c == '/') c = '_';  // Parameterized test names contain '/'.
    }
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  // The directory itself.
  const std::filesystem::path& dir() const { return path_; }

  // The path of `file` inside the directory.
  std::string Path(std::string_view file) const { return (path_ / file).string(); }

  // Writes `bytes` to `file` in the directory and returns its path.
  std::string Write(std::string_view file, std::string_view bytes) const {
    std::ofstream out(Path(file), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << Path(file);
    return Path(file);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace istar::testing

#endif  // ISTAR_TESTS_TESTING_SCRATCH_DIR_H_
