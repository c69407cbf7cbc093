#include "tests/tokenizers/train_sentencepiece.h"

#include <sentencepiece_trainer.h>

#include <fstream>

namespace istar::tokenizers::testing {

std::string TrainTinySentencePiece(const std::string& dir, std::string* error) {
  const std::string corpus = dir + "/corpus.txt";
  {
    std::ofstream out(corpus);
    const char* words[] = {"hello", "world", "the",   "quick",     "brown", "fox",   "jumps",
                           "over",  "lazy",  "dog",   "said",      "quote", "9",     "10",
                           "1,000", "cafe",  "naive", "\"token\"", "piece", "model", "isotropy"};
    for (int line = 0; line < 400; ++line) {
      for (int w = 0; w < 9; ++w) out << words[(line * 7 + w * 3) % 21] << (w < 8 ? " " : "\n");
    }
  }
  const std::string args = "--input=" + corpus + " --model_prefix=" + dir +
                           "/spiece --vocab_size=120 --model_type=unigram"
                           " --character_coverage=1.0 --hard_vocab_limit=false"
                           " --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1"
                           " --pad_piece=<pad> --unk_piece=<unk>"
                           " --control_symbols=[CLS],[SEP] --user_defined_symbols=[MASK]"
                           " --minloglevel=2";
  const sentencepiece::util::Status status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    *error = status.ToString();
    return "";
  }
  return dir + "/spiece.model";
}

}  // namespace istar::tokenizers::testing
