// Trains a tiny SentencePiece model shaped like ALBERT's spiece.model, for the tests.
//
// Kept apart from the tests because sentencepiece_trainer.h cannot share a translation unit with
// Abseil (Note [No Abseil beside SentencePiece] in tokenizers/internal/sentencepiece_model.h).
#ifndef ISTAR_TESTS_TOKENIZERS_TRAIN_SENTENCEPIECE_H_
#define ISTAR_TESTS_TOKENIZERS_TRAIN_SENTENCEPIECE_H_

#include <string>

namespace istar::tokenizers::testing {

// Writes a generated corpus into `dir` and trains `dir`/spiece.model on it: a unigram model with
// <pad>=0, <unk>=1, [CLS]=2, [SEP]=3 (control symbols) and [MASK]=4 (user-defined), as ALBERT's.
// Returns the model's path, or "" with the reason in *error.
std::string TrainTinySentencePiece(const std::string& dir, std::string* error);

}  // namespace istar::tokenizers::testing

#endif  // ISTAR_TESTS_TOKENIZERS_TRAIN_SENTENCEPIECE_H_
