// A thin wrapper around sentencepiece::SentencePieceProcessor.
//
// Note [No Abseil beside SentencePiece]: sentencepiece_processor.h declares
// `namespace absl { using std::string_view; }`, which clashes with Debian's Abseil, whose
// absl::string_view is its own class. So this header uses only the standard library, and its .cc
// includes no Abseil header; the rest of the module reaches SentencePiece only through it.
#ifndef ISTAR_TOKENIZERS_INTERNAL_SENTENCEPIECE_MODEL_H_
#define ISTAR_TOKENIZERS_INTERNAL_SENTENCEPIECE_MODEL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace istar::tokenizers::internal {

// One piece of an encoded text, and the bytes [begin, end) of that text it covers.
struct SentencePiece {
  int id;
  std::string piece;
  size_t begin;
  size_t end;
};

class SentencePieceModel {
 public:
  // Returns nullptr, with the reason in *error, if `path` cannot be read or parsed.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& path, std::string* error);
  ~SentencePieceModel();

  // Thread-safe: SentencePieceProcessor::Encode is const. Empty if SentencePiece fails.
  std::vector<SentencePiece> Encode(std::string_view text) const;
  int PieceToId(std::string_view piece) const;  // -1 when the piece is not in the vocabulary
  std::string IdToPiece(int id) const;          // "" when id is out of range
  int size() const;
  int unk_id() const;

 private:
  explicit SentencePieceModel(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace istar::tokenizers::internal

#endif  // ISTAR_TOKENIZERS_INTERNAL_SENTENCEPIECE_MODEL_H_
