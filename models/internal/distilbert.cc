// DistilBERT (Sanh et al. 2019) as transformers' DistilBertModel lays it out: word + position
// embeddings (no token types), post-LN blocks of attention and feed-forward. Unlike BERT there is
// no dropout after the attention's output projection, and LayerNorm eps is fixed at 1e-12.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/internal/encoders.h"
#include "models/internal/layers.h"

namespace istar::models::internal {
namespace {

using torch::nn::Embedding;
using torch::nn::EmbeddingOptions;
using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;
using torch::nn::Linear;

constexpr double kLayerNormEps = 1e-12;  // DistilBERT's modules hard-code it

LayerNorm MakeNorm(int64_t width) {
  return LayerNorm(LayerNormOptions({width}).eps(kLayerNormEps));
}

class MultiHeadSelfAttention : public torch::nn::Module {
 public:
  explicit MultiHeadSelfAttention(const ModelConfig& c)
      : q_lin_(register_module("q_lin", Linear(c.hidden_size, c.hidden_size))),
        k_lin_(register_module("k_lin", Linear(c.hidden_size, c.hidden_size))),
        v_lin_(register_module("v_lin", Linear(c.hidden_size, c.hidden_size))),
        out_lin_(register_module("out_lin", Linear(c.hidden_size, c.hidden_size))),
        heads_(c.num_attention_heads),
        dropout_(c.attention_probs_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    return out_lin_(Attend(q_lin_(x), k_lin_(x), v_lin_(x), mask, heads_, dropout_, is_training()));
  }

 private:
  Linear q_lin_, k_lin_, v_lin_, out_lin_;
  int64_t heads_;
  double dropout_;
};

class TransformerBlock : public torch::nn::Module {
 public:
  explicit TransformerBlock(const ModelConfig& c)
      : attention_(register_module("attention", std::make_shared<MultiHeadSelfAttention>(c))),
        sa_layer_norm_(register_module("sa_layer_norm", MakeNorm(c.hidden_size))),
        ffn_(register_module("ffn", std::make_shared<torch::nn::Module>())),
        lin1_(ffn_->register_module("lin1", Linear(c.hidden_size, c.intermediate_size))),
        lin2_(ffn_->register_module("lin2", Linear(c.intermediate_size, c.hidden_size))),
        output_layer_norm_(register_module("output_layer_norm", MakeNorm(c.hidden_size))),
        activation_(c.hidden_act),
        dropout_(c.hidden_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    const at::Tensor attended = sa_layer_norm_(attention_->Forward(x, mask) + x);
    const at::Tensor ffn = lin2_(Activate(lin1_(attended), activation_));
    return output_layer_norm_(at::dropout(ffn, dropout_, is_training()) + attended);
  }

 private:
  std::shared_ptr<MultiHeadSelfAttention> attention_;
  LayerNorm sa_layer_norm_;
  std::shared_ptr<torch::nn::Module> ffn_;  // holds "ffn.lin1", "ffn.lin2"
  Linear lin1_, lin2_;
  LayerNorm output_layer_norm_;
  std::string activation_;
  double dropout_;
};

class DistilBertModel : public Encoder {
 public:
  explicit DistilBertModel(const ModelConfig& c)
      : embeddings_(register_module("embeddings", std::make_shared<torch::nn::Module>())),
        word_embeddings_(embeddings_->register_module(
            "word_embeddings",
            Embedding(EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)))),
        position_embeddings_(embeddings_->register_module(
            "position_embeddings", Embedding(c.max_position_embeddings, c.hidden_size))),
        embedding_norm_(embeddings_->register_module("LayerNorm", MakeNorm(c.hidden_size))),
        transformer_(register_module("transformer", std::make_shared<torch::nn::Module>())),
        layers_(RegisterList<TransformerBlock>(
            *transformer_, "layer", c.num_hidden_layers,
            [&](int64_t) { return std::make_shared<TransformerBlock>(c); })),
        dropout_(c.hidden_dropout_prob) {}

  // token_type_ids are ignored: DistilBERT has no token types.
  EncoderOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& token_type_ids) override {
    EncoderOutput out;
    const at::Tensor sum =
        word_embeddings_(input_ids) + position_embeddings_(PositionIds(input_ids));
    at::Tensor x = at::dropout(embedding_norm_(sum), dropout_, is_training());
    const at::Tensor mask = AdditiveMask(attention_mask, x.scalar_type());
    out.hidden_states.push_back(x);
    for (const auto& layer : layers_) {
      x = layer->Forward(x, mask);
      out.hidden_states.push_back(x);
    }
    return out;
  }

 private:
  std::shared_ptr<torch::nn::Module> embeddings_;
  Embedding word_embeddings_, position_embeddings_;
  LayerNorm embedding_norm_;
  std::shared_ptr<torch::nn::Module> transformer_;
  std::vector<std::shared_ptr<TransformerBlock>> layers_;
  double dropout_;
};

}  // namespace

std::shared_ptr<Encoder> MakeDistilBertEncoder(const ModelConfig& config) {
  return std::make_shared<DistilBertModel>(config);
}

}  // namespace istar::models::internal
