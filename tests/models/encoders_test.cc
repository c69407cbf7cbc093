// The three encoders and their heads against plain computations written here from the
// published architectures: every hidden state, the pooled output and the head's logits must
// agree to 1e-10 in float64, for a batch with a padded sequence. The reference reads the model's
// parameters by their Hugging Face names, so it also checks that the names are wired right.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "models/config.h"
#include "models/model.h"

namespace istar::models {
namespace {

constexpr double kTolerance = 1e-10;

using Params = std::map<std::string, at::Tensor>;

// ---- The reference: plain formulas over named parameters. ----

at::Tensor Lin(const Params& p, const std::string& name, const at::Tensor& x) {
  return at::matmul(x, p.at(name + ".weight").t()) + p.at(name + ".bias");
}

at::Tensor Norm(const Params& p, const std::string& name, const at::Tensor& x, double eps) {
  const at::Tensor mean = x.mean(-1, /*keepdim=*/true);
  const at::Tensor var = (x - mean).pow(2).mean(-1, /*keepdim=*/true);
  return (x - mean) / at::sqrt(var + eps) * p.at(name + ".weight") + p.at(name + ".bias");
}

at::Tensor Act(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return 0.5 * x * (1.0 + at::erf(x / std::sqrt(2.0)));
  if (name == "gelu_new") {
    return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
  }
  return at::clamp_min(x, 0.0);
}

// Multi-head attention of one sequence x [T, H], head by head, keys with mask 0 excluded.
at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& mask, int64_t heads) {
  const int64_t d = q.size(1) / heads;
  std::vector<at::Tensor> contexts;
  for (int64_t h = 0; h < heads; ++h) {
    const auto slice = [&](const at::Tensor& t) { return t.narrow(1, h * d, d); };
    at::Tensor scores = at::matmul(slice(q), slice(k).t()) / std::sqrt(static_cast<double>(d));
    scores = scores.masked_fill(mask.unsqueeze(0) == 0, -INFINITY);
    const at::Tensor e = at::exp(scores - std::get<0>(scores.max(-1, true)));
    contexts.push_back(at::matmul(e / e.sum(-1, true), slice(v)));
  }
  return at::cat(contexts, 1);
}

struct Reference {
  std::vector<at::Tensor> hidden_states;  // per layer, [T, H] of one sequence
  at::Tensor pooled;
};

Reference BertLike(const Params& p, const ModelConfig& c, const at::Tensor& ids,
                   const at::Tensor& types, const at::Tensor& mask, const std::string& root) {
  const int64_t t = ids.size(0);
  const std::string emb = root + ".embeddings.";
  at::Tensor x = p.at(emb + "word_embeddings.weight").index_select(0, ids) +
                 p.at(emb + "position_embeddings.weight").narrow(0, 0, t) +
                 p.at(emb + "token_type_embeddings.weight").index_select(0, types);
  x = Norm(p, emb + "LayerNorm", x, c.layer_norm_eps);
  const bool albert = root == "albert";
  if (albert) x = Lin(p, "albert.encoder.embedding_hidden_mapping_in", x);
  Reference ref{{x}, {}};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    for (int64_t inner = 0; inner < (albert ? c.inner_group_num : 1); ++inner) {
      const int64_t group = l / (c.num_hidden_layers / c.num_hidden_groups);
      const std::string pre = albert
                                  ? "albert.encoder.albert_layer_groups." + std::to_string(group) +
                                        ".albert_layers." + std::to_string(inner) + "."
                                  : root + ".encoder.layer." + std::to_string(l) + ".";
      const std::string att = pre + (albert ? "attention." : "attention.self.");
      const at::Tensor context = Attention(Lin(p, att + "query", x), Lin(p, att + "key", x),
                                           Lin(p, att + "value", x), mask, c.num_attention_heads);
      const std::string out = pre + (albert ? "attention." : "attention.output.");
      const at::Tensor a =
          Norm(p, out + "LayerNorm", Lin(p, out + "dense", context) + x, c.layer_norm_eps);
      const at::Tensor f =
          albert ? Lin(p, pre + "ffn_output", Act(c.hidden_act, Lin(p, pre + "ffn", a)))
                 : Lin(p, pre + "output.dense",
                       Act(c.hidden_act, Lin(p, pre + "intermediate.dense", a)));
      x = Norm(p, pre + (albert ? "full_layer_layer_norm" : "output.LayerNorm"), f + a,
               c.layer_norm_eps);
    }
    ref.hidden_states.push_back(x);
  }
  const std::string pooler = albert ? "albert.pooler" : root + ".pooler.dense";
  if (p.count(pooler + ".weight")) ref.pooled = at::tanh(Lin(p, pooler, x.narrow(0, 0, 1)));
  return ref;
}

Reference DistilBert(const Params& p, const ModelConfig& c, const at::Tensor& ids,
                     const at::Tensor& mask) {
  const std::string emb = "distilbert.embeddings.";
  at::Tensor x = p.at(emb + "word_embeddings.weight").index_select(0, ids) +
                 p.at(emb + "position_embeddings.weight").narrow(0, 0, ids.size(0));
  x = Norm(p, emb + "LayerNorm", x, 1e-12);
  Reference ref{{x}, {}};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string pre = "distilbert.transformer.layer." + std::to_string(l) + ".";
    const at::Tensor context =
        Attention(Lin(p, pre + "attention.q_lin", x), Lin(p, pre + "attention.k_lin", x),
                  Lin(p, pre + "attention.v_lin", x), mask, c.num_attention_heads);
    const at::Tensor a =
        Norm(p, pre + "sa_layer_norm", Lin(p, pre + "attention.out_lin", context) + x, 1e-12);
    const at::Tensor f = Lin(p, pre + "ffn.lin2", Act(c.hidden_act, Lin(p, pre + "ffn.lin1", a)));
    x = Norm(p, pre + "output_layer_norm", f + a, 1e-12);
    ref.hidden_states.push_back(x);
  }
  return ref;
}

// ---- The model side. ----

ModelConfig TinyConfig(Architecture architecture) {
  ModelConfig c = DefaultConfig(architecture);
  c.vocab_size = 30;
  c.hidden_size = 8;
  c.embedding_size = architecture == Architecture::kAlbert ? 6 : 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 16;
  c.num_labels = 3;
  return c;
}

// Every parameter made random (biases and LayerNorm too), in float64.
Params Randomize(TaskModel& model) {
  model.module().to(at::kDouble);
  model.module().eval();
  at::NoGradGuard no_grad;
  at::manual_seed(7);
  Params params;
  for (const auto& item : model.module().named_parameters()) {
    item.value().normal_(0.0, 0.5);
    params[item.key()] = item.value().detach();
  }
  return params;
}

// Two sequences of 5 tokens; the second has 2 padded positions.
Batch TestBatch() {
  Batch batch;
  batch.input_ids = at::tensor({2, 7, 11, 5, 3, 2, 9, 3, 0, 0}, at::kLong).view({2, 5});
  batch.attention_mask = at::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 5});
  batch.token_type_ids = at::tensor({0, 0, 0, 1, 1, 0, 0, 1, 0, 0}, at::kLong).view({2, 5});
  return batch;
}

void ExpectClose(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double error = (actual - expected).abs().max().item<double>();
  EXPECT_LE(error, kTolerance) << what;
}

// Runs the model on TestBatch and compares everything with the reference, sequence by sequence.
void CheckAgainstReference(const ModelConfig& config, Head head) {
  auto model = CreateModel(config, head, config.num_labels, /*seed=*/1);
  ASSERT_TRUE(model.ok()) << model.status();
  const Params p = Randomize(**model);
  const Batch batch = TestBatch();
  const ModelOutput out = (*model)->Forward(batch);
  ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(config.num_hidden_layers + 1));
  const std::string root = ArchitectureName(config.architecture);
  for (int64_t b = 0; b < 2; ++b) {
    const at::Tensor ids = batch.input_ids[b], mask = batch.attention_mask[b];
    const Reference ref = config.architecture == Architecture::kDistilBert
                              ? DistilBert(p, config, ids, mask)
                              : BertLike(p, config, ids, batch.token_type_ids[b], mask, root);
    for (size_t l = 0; l < ref.hidden_states.size(); ++l) {
      ExpectClose(out.hidden_states[l][b], ref.hidden_states[l], "layer " + std::to_string(l));
    }
    const at::Tensor last = ref.hidden_states.back();
    if (head == Head::kQuestionAnswering) {
      const at::Tensor logits = Lin(p, "qa_outputs", last);
      ExpectClose(out.start_logits[b], logits.select(1, 0), "start logits");
      ExpectClose(out.end_logits[b], logits.select(1, 1), "end logits");
      continue;
    }
    if (config.architecture == Architecture::kDistilBert) {
      const at::Tensor pre = at::clamp_min(Lin(p, "pre_classifier", last.narrow(0, 0, 1)), 0.0);
      ExpectClose(out.logits[b], Lin(p, "classifier", pre)[0], "logits");
      continue;
    }
    ExpectClose(out.pooled[b], ref.pooled[0], "pooled");
    ExpectClose(out.logits[b], Lin(p, "classifier", ref.pooled)[0], "logits");
  }
}

TEST(BertModel, MatchesPlainComputationWithPadding) {
  CheckAgainstReference(TinyConfig(Architecture::kBert), Head::kSequenceClassification);
}

TEST(BertModel, QuestionAnsweringHeadMatchesPlainComputation) {
  ModelConfig config = TinyConfig(Architecture::kBert);
  config.num_labels = 2;
  CheckAgainstReference(config, Head::kQuestionAnswering);
}

TEST(AlbertModel, SharedLayerWithFactorisedEmbeddingsMatchesPlainComputation) {
  CheckAgainstReference(TinyConfig(Architecture::kAlbert), Head::kSequenceClassification);
}

TEST(AlbertModel, TwoGroupsOfTwoInnerLayersMatchPlainComputation) {
  ModelConfig config = TinyConfig(Architecture::kAlbert);
  config.num_hidden_layers = 4;
  config.num_hidden_groups = 2;
  config.inner_group_num = 2;
  config.hidden_act = "relu";
  CheckAgainstReference(config, Head::kSequenceClassification);
}

TEST(AlbertModel, QuestionAnsweringHeadMatchesPlainComputation) {
  ModelConfig config = TinyConfig(Architecture::kAlbert);
  config.num_labels = 2;
  CheckAgainstReference(config, Head::kQuestionAnswering);
}

TEST(DistilBertModel, MatchesPlainComputationWithPadding) {
  CheckAgainstReference(TinyConfig(Architecture::kDistilBert), Head::kSequenceClassification);
}

TEST(DistilBertModel, QuestionAnsweringHeadMatchesPlainComputation) {
  ModelConfig config = TinyConfig(Architecture::kDistilBert);
  config.num_labels = 2;
  CheckAgainstReference(config, Head::kQuestionAnswering);
}

TEST(TaskModel, ParameterNamesAreHuggingFaces) {
  auto model = CreateModel(TinyConfig(Architecture::kAlbert), Head::kSequenceClassification, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::string> names;
  for (const auto& item : (*model)->module().named_parameters()) names.push_back(item.key());
  for (const char* expected :
       {"albert.embeddings.word_embeddings.weight",
        "albert.encoder.embedding_hidden_mapping_in.bias",
        "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm.weight",
        "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.bias",
        "albert.pooler.weight", "classifier.weight"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_EQ((*model)->class_name(), "AlbertForSequenceClassification");
}

TEST(TaskModel, SameSeedGivesSameInitialWeights) {
  const ModelConfig config = TinyConfig(Architecture::kBert);
  auto a = CreateModel(config, Head::kSequenceClassification, 3, 42);
  auto b = CreateModel(config, Head::kSequenceClassification, 3, 42);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto pa = (*a)->module().named_parameters(), pb = (*b)->module().named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << item.key();
  EXPECT_TRUE(at::equal(pa["bert.embeddings.word_embeddings.weight"][0], at::zeros({8})))
      << "the padding row starts at zero";
  EXPECT_TRUE(at::equal(pa["bert.embeddings.LayerNorm.weight"], at::ones({8})));
}

TEST(TaskModel, DropoutActsInTrainModeOnly) {
  for (Architecture architecture :
       {Architecture::kBert, Architecture::kAlbert, Architecture::kDistilBert}) {
    ModelConfig config = TinyConfig(architecture);
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.3;
    auto model = CreateModel(config, Head::kSequenceClassification, 3, 1);
    ASSERT_TRUE(model.ok()) << model.status();
    TaskModel& m = **model;
    m.module().train();
    const Batch batch = TestBatch();
    EXPECT_FALSE(at::equal(m.Forward(batch).logits, m.Forward(batch).logits))
        << ArchitectureName(architecture) << " in train mode";
    m.module().eval();
    EXPECT_TRUE(at::equal(m.Forward(batch).logits, m.Forward(batch).logits))
        << ArchitectureName(architecture) << " in eval mode";
  }
}

TEST(TaskModel, QuestionAnsweringNeedsTwoLabels) {
  auto model = CreateModel(TinyConfig(Architecture::kBert), Head::kQuestionAnswering, 3, 1);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace istar::models
