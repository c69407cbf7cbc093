// The trainer tests' model: a tiny random BERT (models::TinyBertConfig: hidden 32, 2 layers,
// 2 heads) with the demo vocabulary, as a model folder without weights, which RunTrial
// initialises from the trial's seed (docs/training.md).
#ifndef ISTAR_TESTS_TRAINER_TINY_BERT_FOLDER_H_
#define ISTAR_TESTS_TRAINER_TINY_BERT_FOLDER_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "models/config.h"
#include "tasks/task.h"

namespace istar::trainer {

// Writes `dir`/vocab.txt (tasks::WriteDemoVocab) and `dir`/config.json, a TinyBertConfig of that
// vocabulary's size and 64 positions, after `edit` (when given) has changed it.
inline void WriteTinyBertFolder(const std::filesystem::path& dir,
                                const std::function<void(models::ModelConfig&)>& edit = {}) {
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(tasks::WriteDemoVocab((dir / "vocab.txt").string()).ok());
  std::ifstream vocab(dir / "vocab.txt");
  int64_t lines = 0;
  for (std::string line; std::getline(vocab, line);) ++lines;
  models::ModelConfig config = models::TinyBertConfig(lines, /*max_positions=*/64);
  if (edit) edit(config);
  std::ofstream(dir / "config.json") << models::ModelConfigToJson(config);
}

}  // namespace istar::trainer

#endif  // ISTAR_TESTS_TRAINER_TINY_BERT_FOLDER_H_
