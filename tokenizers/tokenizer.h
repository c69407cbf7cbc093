// File: tokenizers/tokenizer.h
// -----------------------------------------------------------------------------
// Text to token ids for the models istar fine-tunes: BERT's WordPiece (a vocab.txt, or a Hugging
// Face tokenizer.json whose model is WordPiece) and ALBERT's SentencePiece (spiece.model). An
// Encoding carries, besides the ids, the token types, the attention mask, which sequence each
// token came from, and each token's BYTE offsets into the text it came from, so that a task
// reader can map a token back to the characters of a SQuAD context. This module is LibTorch-free.
// What each tokenizer does, and the files it reads, are described in docs/tokenizers.md.
//
// Example:
//
//   ISTAR_ASSIGN_OR_RETURN(std::unique_ptr<tokenizers::Tokenizer> tokenizer,
//                          tokenizers::LoadTokenizerFromFolder("checkpoints/bert-base-uncased"));
//   ISTAR_ASSIGN_OR_RETURN(tokenizers::Encoding encoding,
//                          tokenizer->EncodePair(question, context, {.max_length = 384}));
//   // encoding.ids = [CLS] question [SEP] context [SEP], truncated to at most 384 ids.
//
// Thread safety: a Tokenizer is immutable once loaded; its const methods may be called
// concurrently from any number of threads. The free functions are thread-safe.
//
// Note [Byte offsets]: offsets are byte offsets into the UTF-8 text passed to Encode (or, for a
// pair, into the text of the token's own sequence, told apart by sequence_ids), as half-open
// ranges [begin, end). A token produced from part of a normalised character (a Hangul syllable
// that NFD splits into letters, say) gets the whole character's range, so two consecutive tokens
// may overlap; begins and ends are each non-decreasing within a sequence. Special tokens have
// (0, 0). SQuAD counts answer_start in code points: convert with CodePointIndexToByteOffset.
//
// Note [Invalid UTF-8]: encoding never fails on bad bytes. Each byte that does not start a
// well-formed UTF-8 sequence (lone continuation bytes, truncated or overlong sequences,
// surrogates, values above U+10FFFF) is read as one U+FFFD, which every normaliser here drops,
// as BERT's text cleaning drops U+FFFD.
#ifndef ISTAR_TOKENIZERS_TOKENIZER_H_
#define ISTAR_TOKENIZERS_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace istar::tokenizers {

namespace internal {
class Backend;  // the model-specific half: normalisation, pre-tokenisation, sub-words
}  // namespace internal

// One tokenised text or text pair. All vectors have the same length, one entry per token.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> token_type_ids;  // 0 for [CLS], the first text and its [SEP]; 1 after
  std::vector<int32_t> attention_mask;  // all 1: padding is the batcher's job
  std::vector<std::pair<int64_t, int64_t>> offsets;  // Note [Byte offsets]; (0, 0) for specials
  std::vector<int8_t> sequence_ids;  // 0 first text, 1 second text, -1 special token
};

// How an encoding longer than EncodeOptions::max_length is cut, as Hugging Face defines it.
enum class Truncation {
  kLongestFirst,   // remove the last token of the longer text, one at a time (the second on ties)
  kOnlyFirst,      // remove tokens from the end of the first text only
  kOnlySecond,     // remove tokens from the end of the second text only
  kDoNotTruncate,  // never truncate; the encoding may exceed max_length
};

struct EncodeOptions {
  int64_t max_length = 512;  // ids in the whole encoding, special tokens included
  Truncation truncation = Truncation::kLongestFirst;
  bool add_special_tokens = true;  // [CLS] A [SEP] (B [SEP]); false: A (B) alone
};

// A loaded tokenizer: a vocabulary, a normaliser and a sub-word model (WordPiece or
// SentencePiece), plus the BERT/ALBERT layout of special tokens. Created by the Load functions.
class Tokenizer {
 public:
  // For the Load functions below; not meant to be called directly.
  Tokenizer(std::unique_ptr<const internal::Backend> backend, int32_t cls_id, int32_t sep_id,
            int32_t pad_id, int32_t unk_id, int32_t mask_id);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Tokenises `text`: [CLS] text [SEP] with token types 0 (or the text alone when
  // !options.add_special_tokens). Empty or all-whitespace text gives [CLS] [SEP].
  // Truncation: every strategy but kDoNotTruncate cuts the text's tokens to fit max_length.
  // Returns InvalidArgument if max_length cannot hold the special tokens, or if truncation is
  // needed and options.truncation is kOnlySecond (a single text has no second sequence).
  [[nodiscard]] absl::StatusOr<Encoding> Encode(std::string_view text,
                                                const EncodeOptions& options = {}) const;

  // Tokenises a pair: [CLS] first [SEP] second [SEP], token types 0 up to and including the
  // first [SEP] and 1 after it; sequence_ids 0/1, offsets into `first` or `second`.
  // Returns InvalidArgument if max_length cannot hold the special tokens, or if the chosen
  // strategy cannot fit the pair while keeping at least one token of the sequence it cuts
  // (kOnlyFirst/kOnlySecond when the other text alone is too long), as Hugging Face does.
  [[nodiscard]] absl::StatusOr<Encoding> EncodePair(std::string_view first, std::string_view second,
                                                    const EncodeOptions& options = {}) const;

  // The id of a vocabulary entry (WordPiece continuation pieces are spelled "##ing", SentencePiece
  // pieces "▁word"); nullopt if the vocabulary lacks it.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The vocabulary entry with this id; nullopt if id is outside [0, vocab_size()) or unused.
  std::optional<std::string> IdToToken(int32_t id) const;
  // One more than the largest id.
  int32_t vocab_size() const;

  // Special ids: BERT's [CLS], [SEP], [PAD], [UNK], [MASK]; ALBERT's [CLS], [SEP], <pad>, <unk>,
  // [MASK]. cls, sep and unk always exist; pad and mask are -1 if the vocabulary lacks them.
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t mask_id() const { return mask_id_; }

 private:
  std::unique_ptr<const internal::Backend> backend_;
  int32_t cls_id_;
  int32_t sep_id_;
  int32_t pad_id_;
  int32_t unk_id_;
  int32_t mask_id_;
};

// BERT's basic tokenisation and WordPiece settings (Hugging Face's BertTokenizer arguments).
struct WordPieceOptions {
  bool lowercase = true;                   // lower-case the text ("uncased" models)
  std::optional<bool> strip_accents;       // NFD and drop Mn marks; unset: same as lowercase
  bool tokenize_chinese_chars = true;      // every CJK ideograph is a word of its own
  int64_t max_input_chars_per_word = 100;  // longer words become [UNK]
  std::string unk_token = "[UNK]";
};

// Reads a BERT vocab.txt (one token per line; the line number, from 0, is the id). The text is
// cleaned, split on whitespace, punctuation and CJK ideographs, and each word is split greedily
// into the longest vocabulary pieces ("##" marks a continuation); a word with no such split
// becomes [UNK]. Returns NotFound if the file cannot be opened; InvalidArgument if it is empty or
// lacks unk_token, [CLS] or [SEP].
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tokenizer>> LoadWordPieceVocab(
    const std::string& vocab_txt_path, const WordPieceOptions& options = {});

// Reads a Hugging Face tokenizer.json whose model is WordPiece, with a BertNormalizer or a
// Sequence of Lowercase/StripAccents/NFD normalisers, and a BertPreTokenizer, Whitespace or
// WhitespaceSplit pre-tokenizer. Returns NotFound if the file cannot be opened; InvalidArgument if
// it is not valid JSON or lacks a field; Unimplemented (naming the component) for any other model
// type, normaliser or pre-tokenizer.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerJson(const std::string& path);

// ALBERT's text preprocessing (Hugging Face's AlbertTokenizer arguments).
struct AlbertOptions {
  bool do_lower_case = true;
  bool remove_space = true;   // trim, and collapse runs of whitespace into one space
  bool keep_accents = false;  // false: NFKD and drop combining marks
};

// Reads a SentencePiece model (ALBERT's spiece.model). The text is preprocessed as ALBERT does
// (whitespace collapsed, `` and '' become ", accents dropped, lower-cased), then split into
// pieces by SentencePiece; a piece like "▁9," is split into "▁9" and "," as ALBERT does. Returns
// NotFound if the file does not exist; InvalidArgument if SentencePiece cannot parse it or it
// lacks [CLS] or [SEP].
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePiece(
    const std::string& spiece_model_path, const AlbertOptions& options = {});

// Loads the tokenizer of a Hugging Face checkpoint folder: tokenizer.json if present, else
// vocab.txt (with do_lower_case, strip_accents and tokenize_chinese_chars from
// tokenizer_config.json when it has them), else spiece.model (with do_lower_case, remove_space and
// keep_accents from tokenizer_config.json). Returns NotFound if the folder holds none of the
// three, or the errors of the chosen Load function; InvalidArgument for a malformed
// tokenizer_config.json.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromFolder(
    const std::string& dir);

// The byte offset of the code point with index `index` in the UTF-8 `text` (text.size() for
// index == the number of code points). Invalid bytes count as one code point each, as in
// Note [Invalid UTF-8]. Returns -1 if index is negative or past the end.
int64_t CodePointIndexToByteOffset(std::string_view text, int64_t index);

// The index of the code point that contains byte `offset` of `text` (the number of code points for
// offset == text.size()). Returns -1 if offset is negative or past the end.
int64_t ByteOffsetToCodePointIndex(std::string_view text, int64_t offset);

}  // namespace istar::tokenizers

#endif  // ISTAR_TOKENIZERS_TOKENIZER_H_
