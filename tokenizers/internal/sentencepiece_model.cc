// Note [No Abseil beside SentencePiece] in sentencepiece_model.h: no Abseil header here.
#include "tokenizers/internal/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <utility>

namespace istar::tokenizers::internal {

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& path,
                                                             std::string* error) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status status = processor->Load(path);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(std::move(processor)));
}

SentencePieceModel::SentencePieceModel(
    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
    : processor_(std::move(processor)) {}

SentencePieceModel::~SentencePieceModel() = default;

std::vector<SentencePiece> SentencePieceModel::Encode(std::string_view text) const {
  const sentencepiece::ImmutableSentencePieceText encoded =
      processor_->EncodeAsImmutableProto(text);
  std::vector<SentencePiece> pieces;
  pieces.reserve(encoded.pieces_size());
  for (size_t i = 0; i < encoded.pieces_size(); ++i) {
    const auto piece = encoded.pieces(static_cast<int>(i));
    pieces.push_back({static_cast<int>(piece.id()), piece.piece(), piece.begin(), piece.end()});
  }
  return pieces;
}

int SentencePieceModel::PieceToId(std::string_view piece) const {
  const int id = processor_->PieceToId(piece);
  // SentencePiece answers unk_id for an unknown piece; tell that apart from the piece <unk>.
  if (processor_->IsUnknown(id) && processor_->IdToPiece(id) != piece) return -1;
  return id;
}

std::string SentencePieceModel::IdToPiece(int id) const {
  if (id < 0 || id >= processor_->GetPieceSize()) return "";
  return processor_->IdToPiece(id);
}

int SentencePieceModel::size() const { return processor_->GetPieceSize(); }

int SentencePieceModel::unk_id() const { return processor_->unk_id(); }

}  // namespace istar::tokenizers::internal
