// The catalogues' rows are consistent: every name is usable as a sweep-file key and a database
// value, every regularizer's parameters can be written into a trial's canonical JSON without
// clobbering another key, and every task's metrics name its primary metric.
#include "catalog/catalog.h"

#include <cmath>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace istar::catalog {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A name a user types in YAML and the database stores: lowercase letters, digits and '_'.
bool IsPlainName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

TEST(RegularizerCatalogue, NamesAreUniquePlainWordsWithTheBaselineFirst) {
  std::set<std::string_view> names;
  for (const RegularizerSpec& spec : Regularizers()) {
    EXPECT_TRUE(IsPlainName(spec.name)) << spec.name;
    EXPECT_TRUE(names.insert(spec.name).second) << "duplicate " << spec.name;
    EXPECT_FALSE(spec.summary.empty()) << spec.name;
  }
  ASSERT_GE(Regularizers().size(), 3u);
  // Tables compare every column with the baseline; the paper's two keep their places
  // (Note [Catalogue order]).
  EXPECT_EQ(Regularizers()[0].name, "baseline");
  EXPECT_EQ(Regularizers()[1].name, "cosreg");
  EXPECT_EQ(Regularizers()[2].name, "istar");
}

TEST(RegularizerCatalogue, EveryRegularizerButTheBaselineIsWeightedByLambdaFirst) {
  for (const RegularizerSpec& spec : Regularizers()) {
    if (spec.name == "baseline") {
      EXPECT_TRUE(spec.parameters.empty());
      EXPECT_FALSE(spec.has_lambda());
      continue;
    }
    ASSERT_FALSE(spec.parameters.empty()) << spec.name;
    EXPECT_EQ(spec.parameters[0].name, "lambda") << spec.name;
    EXPECT_TRUE(spec.has_lambda()) << spec.name;
    EXPECT_FALSE(spec.citation.empty()) << spec.name;
  }
}

// A parameter becomes a top-level key of the trial's canonical JSON (sweeps/internal/canonical.cc)
// and an axis of a sweep entry: it must not share a name with the keys every trial has.
TEST(RegularizerCatalogue, ParameterNamesDoNotCollideWithTheTrialsOtherKeys) {
  const std::set<std::string_view> trial_keys = {"format",
                                                 "model",
                                                 "model_path",
                                                 "task",
                                                 "task_path",
                                                 "regularizer",
                                                 "batch_size",
                                                 "epochs",
                                                 "seed",
                                                 "learning_rate",
                                                 "max_seq_length",
                                                 "warmup_ratio",
                                                 "weight_decay",
                                                 "precision",
                                                 "eval_every_steps",
                                                 "isotropy_every_steps",
                                                 "regularizer_layers",
                                                 "shrinkage_points",
                                                 "lr_schedule",
                                                 "max_grad_norm",
                                                 "doc_stride",
                                                 "selection",
                                                 "point_cloud_padding",
                                                 "isotropy_scope",
                                                 "segment_ids",
                                                 "shrinkage_sample",
                                                 "evaluation_zeta"};
  for (const RegularizerSpec& spec : Regularizers()) {
    std::set<std::string_view> seen;
    for (const ParameterSpec& parameter : spec.parameters) {
      EXPECT_TRUE(IsPlainName(parameter.name)) << spec.name << "." << parameter.name;
      EXPECT_FALSE(trial_keys.contains(parameter.name)) << spec.name << "." << parameter.name;
      EXPECT_TRUE(seen.insert(parameter.name).second) << spec.name << "." << parameter.name;
      EXPECT_FALSE(parameter.meaning.empty()) << spec.name << "." << parameter.name;
    }
  }
}

// Two regularizers may share a parameter name only if it means the same values: a shared key of
// the canonical JSON is the same axis (lambda is the only one today).
TEST(RegularizerCatalogue, ASharedParameterNameHasOneRange) {
  for (const RegularizerSpec& a : Regularizers()) {
    for (const RegularizerSpec& b : Regularizers()) {
      for (const ParameterSpec& pa : a.parameters) {
        const ParameterSpec* pb = b.FindParameter(pa.name);
        if (pb == nullptr) continue;
        EXPECT_EQ(pa.range.min, pb->range.min) << a.name << "/" << b.name << " " << pa.name;
        EXPECT_EQ(pa.range.max, pb->range.max) << a.name << "/" << b.name << " " << pa.name;
        EXPECT_EQ(pa.range.min_open, pb->range.min_open) << pa.name;
      }
    }
  }
}

TEST(RegularizerCatalogue, DefaultsLieInTheirRanges) {
  for (const RegularizerSpec& spec : Regularizers()) {
    for (const ParameterSpec& parameter : spec.parameters) {
      if (!parameter.default_value.has_value()) continue;
      EXPECT_TRUE(parameter.range.Contains(*parameter.default_value))
          << spec.name << "." << parameter.name << " = " << *parameter.default_value;
    }
  }
  // lambda and zeta are the paper's grid axes: a sweep must give them.
  EXPECT_FALSE(FindRegularizer("istar")->FindParameter("lambda")->default_value.has_value());
  EXPECT_FALSE(FindRegularizer("istar")->FindParameter("zeta")->default_value.has_value());
}

TEST(RegularizerCatalogue, RangesFollowTheirBounds) {
  const Range unit{.min = 0.0, .max = 1.0};
  EXPECT_TRUE(unit.Contains(0.0));
  EXPECT_TRUE(unit.Contains(1.0));
  EXPECT_FALSE(unit.Contains(1.0000001));
  EXPECT_FALSE(unit.Contains(-1e-12));
  const Range positive{.min = 0.0, .min_open = true};
  EXPECT_FALSE(positive.Contains(0.0));
  EXPECT_TRUE(positive.Contains(1e-300));
  EXPECT_TRUE(positive.Contains(1e300));
  EXPECT_FALSE(Range{}.Contains(std::nan("")));
  // The paper's shrinkage weight lies in [0, 1].
  const ParameterSpec* zeta = FindRegularizer("istar")->FindParameter("zeta");
  ASSERT_NE(zeta, nullptr);
  EXPECT_TRUE(zeta->range.Contains(0.0));
  EXPECT_TRUE(zeta->range.Contains(1.0));
  EXPECT_FALSE(zeta->range.Contains(1.5));
}

TEST(RegularizerCatalogue, OnlyIStarShrinksTowardsS0) {
  for (const RegularizerSpec& spec : Regularizers()) {
    EXPECT_EQ(spec.uses_shrinkage, spec.name == "istar") << spec.name;
  }
}

TEST(RegularizerCatalogue, LookupsFindRowsAndSortUnknownNamesLast) {
  ASSERT_NE(FindRegularizer("vicreg"), nullptr);
  EXPECT_EQ(FindRegularizer("vicreg")->name, "vicreg");
  EXPECT_EQ(FindRegularizer("VICReg"), nullptr);  // names are exact
  EXPECT_EQ(FindRegularizer(""), nullptr);
  EXPECT_EQ(FindRegularizer("vicreg")->FindParameter("zeta"), nullptr);
  EXPECT_EQ(RegularizerOrder("baseline"), 0u);
  EXPECT_EQ(RegularizerOrder("istar"), 2u);
  EXPECT_EQ(RegularizerOrder("no_such_regularizer"), Regularizers().size());
  for (size_t i = 0; i < Regularizers().size(); ++i) {
    EXPECT_EQ(RegularizerOrder(Regularizers()[i].name), i);
  }
  EXPECT_THAT(RegularizerNames(), HasSubstr("baseline, cosreg, istar, vicreg"));
}

TEST(TaskCatalogue, NamesAreUniquePlainWordsWithThePapersTasksFirst) {
  std::set<std::string_view> names;
  for (const TaskSpec& spec : Tasks()) {
    EXPECT_TRUE(IsPlainName(spec.name)) << spec.name;
    EXPECT_TRUE(names.insert(spec.name).second) << "duplicate " << spec.name;
    EXPECT_FALSE(spec.title.empty()) << spec.name;
  }
  ASSERT_GE(Tasks().size(), 4u);
  EXPECT_EQ(Tasks()[0].name, "sst2");
  EXPECT_EQ(Tasks()[1].name, "sst5");
  EXPECT_EQ(Tasks()[2].name, "qnli");
  EXPECT_EQ(Tasks()[3].name, "squad");
  EXPECT_THAT(TaskNames(), HasSubstr("sst2, sst5, qnli, squad"));
}

TEST(TaskCatalogue, ThePrimaryMetricIsTheFirstMetric) {
  for (const TaskSpec& spec : Tasks()) {
    ASSERT_FALSE(spec.metrics.empty()) << spec.name;
    EXPECT_EQ(spec.metrics[0], spec.primary_metric) << spec.name;
    std::set<std::string_view> metrics(spec.metrics.begin(), spec.metrics.end());
    EXPECT_EQ(metrics.size(), spec.metrics.size()) << spec.name << ": a metric twice";
    ASSERT_FALSE(spec.eval_splits.empty()) << spec.name;
    EXPECT_EQ(spec.eval_splits[0], "dev") << spec.name;
  }
}

TEST(TaskCatalogue, ClassificationTasksHaveLabelsAndTheOthersNone) {
  for (const TaskSpec& spec : Tasks()) {
    const bool classifies =
        spec.kind == TaskKind::kSingleSentence || spec.kind == TaskKind::kSentencePair;
    if (classifies) {
      EXPECT_GE(spec.num_labels(), 2) << spec.name;
    } else {
      EXPECT_EQ(spec.num_labels(), 0) << spec.name;
    }
  }
  // Against the datasets' own label counts (GLUE, Socher et al. 2013).
  EXPECT_EQ(FindTask("sst2")->num_labels(), 2);
  EXPECT_EQ(FindTask("sst5")->num_labels(), 5);
  EXPECT_EQ(FindTask("mnli")->num_labels(), 3);
  EXPECT_EQ(FindTask("stsb")->kind, TaskKind::kRegression);
  EXPECT_EQ(FindTask("squad")->kind, TaskKind::kSpanExtraction);
  EXPECT_THAT(FindTask("mnli")->eval_splits, ElementsAre("dev", "dev_mismatched"));
  EXPECT_EQ(FindTask("cola")->primary_metric, "matthews_corr");
  EXPECT_EQ(FindTask("SST2"), nullptr);
}

TEST(TaskCatalogue, KindsHaveTheirNames) {
  EXPECT_EQ(TaskKindName(TaskKind::kSingleSentence), "single-sentence");
  EXPECT_EQ(TaskKindName(TaskKind::kSentencePair), "sentence-pair");
  EXPECT_EQ(TaskKindName(TaskKind::kRegression), "regression");
  EXPECT_EQ(TaskKindName(TaskKind::kSpanExtraction), "span-extraction");
}

}  // namespace
}  // namespace istar::catalog
