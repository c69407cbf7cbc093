// BuildFeatures: token ids for classification, and SQuAD's sliding context windows.
#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status_macros.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

using tokenizers::EncodeOptions;
using tokenizers::Encoding;
using tokenizers::Tokenizer;
using tokenizers::Truncation;

absl::StatusOr<std::vector<Feature>> ClassificationFeatures(const TaskData& data,
                                                            const Tokenizer& tokenizer,
                                                            const EncodeSettings& settings) {
  const EncodeOptions options{.max_length = settings.max_seq_length,
                              .truncation = Truncation::kLongestFirst};
  const bool pairs = TaskSpecOf(data.task).kind != catalog::TaskKind::kSingleSentence;
  std::vector<Feature> features;
  features.reserve(data.classification.size());
  for (size_t i = 0; i < data.classification.size(); ++i) {
    const ClassificationExample& example = data.classification[i];
    ISTAR_ASSIGN_OR_RETURN(Encoding encoding,
                           pairs ? tokenizer.EncodePair(example.text_a, example.text_b, options)
                                 : tokenizer.Encode(example.text_a, options));
    features.push_back({.input_ids = std::move(encoding.ids),
                        .token_type_ids = std::move(encoding.token_type_ids),
                        .label = example.label,
                        .score = example.score,
                        .example_index = static_cast<int64_t>(i)});
  }
  return features;
}

// The [begin, end) token ranges of the context windows (Hugging Face's overflowing tokens: each
// window holds `size` tokens, the next starts `size - stride` tokens later, the last one ends at
// the end). See Note [SQuAD windows] in docs/tasks.md. Requires size > stride.
std::vector<std::pair<size_t, size_t>> Windows(size_t num_tokens, size_t size, size_t stride) {
  ISTAR_CHECK(size > stride) << "CheckSquadSettings lets windows of " << size
                             << " tokens with stride " << stride << " through";
  std::vector<std::pair<size_t, size_t>> windows;
  for (size_t begin = 0;; begin += size - stride) {
    windows.emplace_back(begin, std::min(begin + size, num_tokens));
    if (begin + size >= num_tokens) return windows;
  }
}

// The tokenised question and context of a SQuAD example (special tokens not added).
struct SquadTokens {
  Encoding question;
  Encoding context;
};

// Token positions of the answer bytes [answer_begin, answer_end) in window [begin, end) of the
// context; (0, 0) unless the window covers the whole answer. `first` is the window's first
// token's position in the feature.
std::pair<int64_t, int64_t> AnswerPositions(const Encoding& context, size_t begin, size_t end,
                                            int64_t answer_begin, int64_t answer_end,
                                            int64_t first) {
  if (begin == end || context.offsets[begin].first > answer_begin ||
      context.offsets[end - 1].second < answer_end) {
    return {0, 0};
  }
  size_t start = begin;
  while (start + 1 < end && context.offsets[start + 1].first <= answer_begin) ++start;
  size_t last = end - 1;
  while (last > start && context.offsets[last - 1].second >= answer_end) --last;
  return {first + static_cast<int64_t>(start - begin), first + static_cast<int64_t>(last - begin)};
}

Feature SquadWindow(const SquadTokens& tokens, size_t begin, size_t end, const Tokenizer& tokenizer,
                    const SquadExample& example) {
  Feature feature;
  feature.input_ids.push_back(tokenizer.cls_id());
  const std::vector<int32_t>& question = tokens.question.ids;
  feature.input_ids.insert(feature.input_ids.end(), question.begin(), question.end());
  feature.input_ids.push_back(tokenizer.sep_id());
  const int64_t first = static_cast<int64_t>(feature.input_ids.size());
  feature.token_type_ids.assign(feature.input_ids.size(), 0);
  feature.context_offsets.assign(feature.input_ids.size(), {-1, -1});
  for (size_t t = begin; t < end; ++t) {
    feature.input_ids.push_back(tokens.context.ids[t]);
    feature.context_offsets.push_back(tokens.context.offsets[t]);
  }
  feature.input_ids.push_back(tokenizer.sep_id());
  feature.context_offsets.emplace_back(-1, -1);
  feature.token_type_ids.resize(feature.input_ids.size(), 1);
  if (!example.answers.empty()) {
    const SquadAnswer& answer = example.answers.front();
    const int64_t length = tokenizers::ByteOffsetToCodePointIndex(answer.text, answer.text.size());
    const int64_t answer_begin =
        tokenizers::CodePointIndexToByteOffset(example.context, answer.start);
    const int64_t answer_end =
        tokenizers::CodePointIndexToByteOffset(example.context, answer.start + length);
    if (answer_begin >= 0 && answer_end >= 0) {
      std::tie(feature.start_position, feature.end_position) =
          AnswerPositions(tokens.context, begin, end, answer_begin, answer_end, first);
    }
  }
  return feature;
}

absl::Status CheckSquadSettings(const EncodeSettings& settings) {
  if (settings.max_seq_length <= 0 || settings.doc_stride <= 0 || settings.max_query_length <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SQuAD encode settings must be positive: max_seq_length=", settings.max_seq_length,
        " doc_stride=", settings.doc_stride, " max_query_length=", settings.max_query_length));
  }
  if (settings.max_seq_length - settings.max_query_length - 3 <= settings.doc_stride) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_seq_length ", settings.max_seq_length, " cannot hold 3 special tokens, ",
                     settings.max_query_length, " question tokens and more than doc_stride ",
                     settings.doc_stride, " context tokens"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Feature>> SquadFeatures(const TaskData& data, const Tokenizer& tokenizer,
                                                   const EncodeSettings& settings) {
  ISTAR_RETURN_IF_ERROR(CheckSquadSettings(settings));
  const EncodeOptions question_options{.max_length = settings.max_query_length,
                                       .truncation = Truncation::kLongestFirst,
                                       .add_special_tokens = false};
  const EncodeOptions context_options{.truncation = Truncation::kDoNotTruncate,
                                      .add_special_tokens = false};
  std::vector<Feature> features;
  SquadTokens tokens;
  const std::string* tokenized_context = nullptr;  // consecutive questions share a context
  for (size_t i = 0; i < data.squad.size(); ++i) {
    const SquadExample& example = data.squad[i];
    ISTAR_ASSIGN_OR_RETURN(tokens.question, tokenizer.Encode(example.question, question_options));
    if (tokenized_context == nullptr || *tokenized_context != example.context) {
      ISTAR_ASSIGN_OR_RETURN(tokens.context, tokenizer.Encode(example.context, context_options));
      tokenized_context = &example.context;
    }
    const size_t size = settings.max_seq_length - tokens.question.ids.size() - 3;
    for (const auto& [begin, end] : Windows(tokens.context.ids.size(), size, settings.doc_stride)) {
      features.push_back(SquadWindow(tokens, begin, end, tokenizer, example));
      features.back().example_index = static_cast<int64_t>(i);
    }
  }
  return features;
}

}  // namespace

absl::StatusOr<std::vector<Feature>> BuildFeatures(const TaskData& data,
                                                   const tokenizers::Tokenizer& tokenizer,
                                                   const EncodeSettings& settings) {
  if (data.task == Task::kSquad) return SquadFeatures(data, tokenizer, settings);
  if (settings.max_seq_length <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_seq_length must be positive, got ", settings.max_seq_length));
  }
  return ClassificationFeatures(data, tokenizer, settings);
}

}  // namespace istar::tasks
