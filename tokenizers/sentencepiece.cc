// LoadSentencePiece: ALBERT's spiece.model.
#include <filesystem>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/internal/albert.h"
#include "tokenizers/internal/backend.h"
#include "tokenizers/internal/sentencepiece_model.h"
#include "tokenizers/tokenizer.h"

namespace istar::tokenizers {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& spiece_model_path,
                                                             const AlbertOptions& options) {
  std::error_code error_code;
  if (!std::filesystem::is_regular_file(spiece_model_path, error_code)) {
    return absl::NotFoundError(absl::StrCat(spiece_model_path, ": no such file"));
  }
  std::string error;
  std::unique_ptr<internal::SentencePieceModel> model =
      internal::SentencePieceModel::Load(spiece_model_path, &error);
  if (model == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(spiece_model_path, ": not a SentencePiece model: ", error));
  }
  internal::SpecialTokens special;  // ALBERT: [CLS], [SEP], [MASK], <pad>, <unk>
  special.pad = "<pad>";
  special.unk = model->IdToPiece(model->unk_id());
  return internal::MakeTokenizer(
      std::make_unique<internal::AlbertBackend>(std::move(model), options), special,
      spiece_model_path);
}

}  // namespace istar::tokenizers
