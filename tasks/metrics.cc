// Accuracy, the binary metrics (Matthews correlation, F1 of class 1), the correlations (Pearson,
// Spearman), the SQuAD v1.1 metrics (the rules of the official evaluation script), and the
// scorers of each task kind, which report the task's catalogue metrics.
#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "tasks/task.h"

namespace istar::tasks {
namespace {

// Python's string.punctuation, the set the official script removes.
constexpr std::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

// Python's str.isspace(): general category Zs or bidirectional class WS, B or S.
bool IsSpace(int32_t c) {
  const utf8proc_property_t* property = utf8proc_get_property(c);
  return property->category == UTF8PROC_CATEGORY_ZS ||
         property->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         property->bidi_class == UTF8PROC_BIDI_CLASS_B ||
         property->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

// A character of Python's Unicode \w (letters and numbers; '_' is gone with the punctuation).
bool IsWordChar(int32_t c) {
  const utf8proc_category_t category = utf8proc_category(c);
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

// The code points of `text`, lower-cased, without ASCII punctuation. A byte that does not start
// valid UTF-8 becomes U+FFFD.
std::vector<int32_t> LowerWithoutPunctuation(std::string_view text) {
  std::vector<int32_t> out;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    int32_t c = 0;
    utf8proc_ssize_t length = utf8proc_iterate(bytes + i, text.size() - i, &c);
    if (length <= 0) c = 0xFFFD, length = 1;
    i += length;
    if (c < 128 && kPunctuation.find(static_cast<char>(c)) != std::string_view::npos) continue;
    out.push_back(utf8proc_tolower(c));
  }
  return out;
}

bool IsArticle(std::span<const int32_t> word) {
  const auto is = [&](std::string_view article) {
    return std::equal(word.begin(), word.end(), article.begin(), article.end());
  };
  return is("a") || is("an") || is("the");
}

void AppendUtf8(int32_t c, std::string& out) {
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t length = utf8proc_encode_char(c, buffer);
  out.append(reinterpret_cast<const char*>(buffer), length);
}

// The cells of the 2x2 table of binary predictions against binary labels (class 1 positive).
struct Confusion {
  double tp = 0;
  double fp = 0;
  double tn = 0;
  double fn = 0;
};

Confusion CountBinary(std::span<const int64_t> predictions, std::span<const int64_t> labels) {
  ISTAR_CHECK(predictions.size() == labels.size())
      << predictions.size() << " predictions for " << labels.size() << " labels";
  Confusion table;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t p = predictions[i];
    const int64_t l = labels[i];
    ISTAR_CHECK((p == 0 || p == 1) && (l == 0 || l == 1))
        << "binary metrics need 0 or 1, got prediction " << p << " and label " << l << " at " << i;
    (p == 1 ? (l == 1 ? table.tp : table.fp) : (l == 1 ? table.fn : table.tn)) += 1;
  }
  return table;
}

bool AllFinite(std::span<const double> values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// 1-based ranks of `values`; tied values get the mean of the ranks they span (scipy's "average").
std::vector<double> AverageRanks(std::span<const double> values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;  // [begin, end) hold equal values
    while (end < order.size() && values[order[end]] == values[order[begin]]) ++end;
    // Ranks begin + 1 .. end; their mean:
    const double rank = (static_cast<double>(begin + 1) + static_cast<double>(end)) / 2;
    for (size_t k = begin; k < end; ++k) ranks[order[k]] = rank;
    begin = end;
  }
  return ranks;
}

std::vector<std::string> SplitSpaces(const std::string& text) {
  std::vector<std::string> tokens;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = std::min(text.find(' ', begin), text.size());
    if (end > begin) tokens.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return tokens;
}

}  // namespace

double Accuracy(std::span<const int64_t> predictions, std::span<const int64_t> labels) {
  ISTAR_CHECK(predictions.size() == labels.size())
      << predictions.size() << " predictions for " << labels.size() << " labels";
  if (labels.empty()) return 0;
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predictions[i] == labels[i];
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double MatthewsCorrelation(std::span<const int64_t> predictions, std::span<const int64_t> labels) {
  const Confusion t = CountBinary(predictions, labels);
  const double denominator = (t.tp + t.fp) * (t.tp + t.fn) * (t.tn + t.fp) * (t.tn + t.fn);
  if (denominator == 0) return 0;
  return (t.tp * t.tn - t.fp * t.fn) / std::sqrt(denominator);
}

double BinaryF1(std::span<const int64_t> predictions, std::span<const int64_t> labels) {
  const Confusion t = CountBinary(predictions, labels);
  if (t.tp == 0) return 0;
  return 2 * t.tp / (2 * t.tp + t.fp + t.fn);
}

double PearsonCorrelation(std::span<const double> x, std::span<const double> y) {
  ISTAR_CHECK(x.size() == y.size()) << x.size() << " values against " << y.size();
  if (!AllFinite(x) || !AllFinite(y)) return std::numeric_limits<double>::quiet_NaN();
  // Constant is tested on the values, not on a variance of 0, which rounding can miss (the mean
  // of three 0.1 is not 0.1); scipy tests it the same way.
  const auto constant = [](std::span<const double> v) {
    return std::all_of(v.begin(), v.end(), [&](double e) { return e == v.front(); });
  };
  if (x.size() < 2 || constant(x) || constant(y)) return 0;
  const double n = static_cast<double>(x.size());
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mean_x;
    const double dy = y[i] - mean_y;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

double SpearmanCorrelation(std::span<const double> x, std::span<const double> y) {
  ISTAR_CHECK(x.size() == y.size()) << x.size() << " values against " << y.size();
  // Ranks need an order: NaN has none.
  if (!AllFinite(x) || !AllFinite(y)) return std::numeric_limits<double>::quiet_NaN();
  return PearsonCorrelation(AverageRanks(x), AverageRanks(y));
}

// See Note [SQuAD normalisation] in docs/tasks.md: the four steps of the official script, in its
// order (lower, remove punctuation, remove articles, fix whitespace).
std::string NormalizeAnswer(std::string_view text) {
  const std::vector<int32_t> chars = LowerWithoutPunctuation(text);
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < chars.size();) {
    size_t end = i;
    while (end < chars.size() && IsWordChar(chars[end])) ++end;
    if (end == i) {  // one non-word character
      if (IsSpace(chars[i])) {
        pending_space = !out.empty();
      } else {
        if (pending_space) out += ' ', pending_space = false;
        AppendUtf8(chars[i], out);
      }
      ++i;
      continue;
    }
    const std::span<const int32_t> word(chars.data() + i, end - i);
    if (IsArticle(word)) {
      pending_space = !out.empty();  // the script replaces an article with a space
    } else {
      if (pending_space) out += ' ', pending_space = false;
      for (int32_t c : word) AppendUtf8(c, out);
    }
    i = end;
  }
  return out;
}

double ExactMatch(std::string_view prediction, std::string_view gold) {
  return NormalizeAnswer(prediction) == NormalizeAnswer(gold) ? 1.0 : 0.0;
}

double F1(std::string_view prediction, std::string_view gold) {
  const std::vector<std::string> predicted = SplitSpaces(NormalizeAnswer(prediction));
  const std::vector<std::string> expected = SplitSpaces(NormalizeAnswer(gold));
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& token : expected) ++counts[token];
  int64_t common = 0;
  for (const std::string& token : predicted) {
    auto it = counts.find(token);
    if (it != counts.end() && it->second > 0) --it->second, ++common;
  }
  if (common == 0) return 0;
  const double precision = static_cast<double>(common) / static_cast<double>(predicted.size());
  const double recall = static_cast<double>(common) / static_cast<double>(expected.size());
  return 2 * precision * recall / (precision + recall);
}

absl::StatusOr<Scores> ScoreClassification(const TaskData& data,
                                           std::span<const int64_t> predictions) {
  const catalog::TaskSpec& spec = TaskSpecOf(data.task);
  if (spec.kind != catalog::TaskKind::kSingleSentence &&
      spec.kind != catalog::TaskKind::kSentencePair) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ScoreClassification needs a classification task, got ", std::string(spec.name), " (",
        std::string(catalog::TaskKindName(spec.kind)), ")"));
  }
  if (predictions.size() != data.classification.size()) {
    return absl::InvalidArgumentError(absl::StrCat(predictions.size(), " predictions for ",
                                                   data.classification.size(), " examples of ",
                                                   data.path));
  }
  const int64_t num_labels = spec.num_labels();
  std::vector<int64_t> labels;
  labels.reserve(data.classification.size());
  for (size_t i = 0; i < data.classification.size(); ++i) {
    const ClassificationExample& example = data.classification[i];
    if (predictions[i] < 0 || predictions[i] >= num_labels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prediction ", predictions[i], " for example ", i, " of ", data.path,
          " is not a label of ", std::string(spec.name), " (0 .. ", num_labels - 1, ")"));
    }
    if (example.label < 0 || example.label >= num_labels) {
      return absl::InvalidArgumentError(absl::StrCat(
          data.path, ":", example.line, ": label ", example.label, " is not a label of ",
          std::string(spec.name), " (0 .. ", num_labels - 1, ")"));
    }
    labels.push_back(example.label);
  }
  Scores scores;
  for (const std::string_view metric : spec.metrics) {
    double value = 0;
    if (metric == "accuracy") {
      value = Accuracy(predictions, labels);
    } else if (metric == "matthews_corr") {
      value = MatthewsCorrelation(predictions, labels);
    } else if (metric == "f1") {
      value = BinaryF1(predictions, labels);
    } else {
      ISTAR_CHECK(false) << "no scorer for metric " << metric << " of task " << spec.name;
    }
    scores.values[std::string(metric)] = value;
  }
  return scores;
}

absl::StatusOr<Scores> ScoreRegression(const TaskData& data, std::span<const double> predictions) {
  const catalog::TaskSpec& spec = TaskSpecOf(data.task);
  if (spec.kind != catalog::TaskKind::kRegression) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScoreRegression needs a regression task, got ", std::string(spec.name), " (",
                     std::string(catalog::TaskKindName(spec.kind)), ")"));
  }
  if (predictions.size() != data.classification.size()) {
    return absl::InvalidArgumentError(absl::StrCat(predictions.size(), " predictions for ",
                                                   data.classification.size(), " examples of ",
                                                   data.path));
  }
  std::vector<double> gold;
  gold.reserve(data.classification.size());
  for (const ClassificationExample& example : data.classification) gold.push_back(example.score);
  Scores scores;
  for (const std::string_view metric : spec.metrics) {
    double value = 0;
    if (metric == "pearson") {
      value = PearsonCorrelation(predictions, gold);
    } else if (metric == "spearman") {
      value = SpearmanCorrelation(predictions, gold);
    } else {
      ISTAR_CHECK(false) << "no scorer for metric " << metric << " of task " << spec.name;
    }
    scores.values[std::string(metric)] = value;
  }
  return scores;
}

absl::StatusOr<Scores> ScoreSquad(const TaskData& data,
                                  const std::vector<SquadPrediction>& predictions) {
  if (data.task != Task::kSquad || data.squad.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScoreSquad needs SQuAD data with at least one question: ", data.path));
  }
  std::unordered_map<std::string_view, std::string_view> by_id;
  for (const SquadPrediction& prediction : predictions) by_id[prediction.id] = prediction.text;
  double exact_match = 0;
  double f1 = 0;
  for (const SquadExample& example : data.squad) {
    const auto it = by_id.find(example.id);
    if (it == by_id.end()) continue;  // unanswered: scores 0, as in the official script
    double best_em = 0;
    double best_f1 = 0;
    for (const SquadAnswer& answer : example.answers) {
      best_em = std::max(best_em, ExactMatch(it->second, answer.text));
      best_f1 = std::max(best_f1, F1(it->second, answer.text));
    }
    exact_match += best_em;
    f1 += best_f1;
  }
  const double total = static_cast<double>(data.squad.size());
  return Scores{{{"exact_match", 100 * exact_match / total}, {"f1", 100 * f1 / total}}};
}

}  // namespace istar::tasks
