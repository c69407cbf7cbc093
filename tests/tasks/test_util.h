// Helpers shared by the tasks tests: shared-data paths (with a skip when absent) and temp files.
#ifndef ISTAR_TESTS_TASKS_TEST_UTIL_H_
#define ISTAR_TESTS_TASKS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tokenizers/tokenizer.h"

namespace istar::tasks::testing {

inline std::string SharedData(const std::string& relative) {
  return std::string(ISTAR_SHARED_DATA_DIR) + "/" + relative;
}

// Skips the current test when a shared data file is missing (a checkout without shared/).
#define ISTAR_REQUIRE_SHARED_DATA(relative)                                              \
  if (!std::filesystem::exists(::istar::tasks::testing::SharedData(relative))) {         \
    GTEST_SKIP() << "shared data file " << ::istar::tasks::testing::SharedData(relative) \
                 << " is absent";                                                        \
  }

// A fresh folder under the system temp folder, removed at destruction.
class TempFolder {
 public:
  TempFolder() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("istar_tasks_") + info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  // Writes `contents` to a file of this folder and returns its path.
  std::string Write(const std::string& name, const std::string& contents) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << contents;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// BERT-base uncased, loaded once; nullptr when the shared data is absent.
inline const tokenizers::Tokenizer* BertUncased() {
  static const tokenizers::Tokenizer* const tokenizer = [] {
    auto loaded = tokenizers::LoadWordPieceVocab(SharedData("bert-base-uncased/vocab.txt"));
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return tokenizer;
}

}  // namespace istar::tasks::testing

#endif  // ISTAR_TESTS_TASKS_TEST_UTIL_H_
