// BERT (Devlin et al. 2019) as transformers' BertModel lays it out: post-LN layers of
// self-attention and a feed-forward block, each wrapped in dropout + residual + LayerNorm.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/internal/encoders.h"
#include "models/internal/layers.h"

namespace istar::models::internal {
namespace {

using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;
using torch::nn::Linear;

class BertSelfAttention : public torch::nn::Module {
 public:
  explicit BertSelfAttention(const ModelConfig& c)
      : query_(register_module("query", Linear(c.hidden_size, c.hidden_size))),
        key_(register_module("key", Linear(c.hidden_size, c.hidden_size))),
        value_(register_module("value", Linear(c.hidden_size, c.hidden_size))),
        heads_(c.num_attention_heads),
        dropout_(c.attention_probs_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    return Attend(query_(x), key_(x), value_(x), mask, heads_, dropout_, is_training());
  }

 private:
  Linear query_, key_, value_;
  int64_t heads_;
  double dropout_;
};

// dense -> dropout -> LayerNorm(. + residual): BertSelfOutput and BertOutput alike.
class BertResidualOutput : public torch::nn::Module {
 public:
  BertResidualOutput(int64_t in, const ModelConfig& c)
      : dense_(register_module("dense", Linear(in, c.hidden_size))),
        layer_norm_(register_module(
            "LayerNorm", LayerNorm(LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout_(c.hidden_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& residual) {
    return layer_norm_(at::dropout(dense_(x), dropout_, is_training()) + residual);
  }

 private:
  Linear dense_;
  LayerNorm layer_norm_;
  double dropout_;
};

class BertAttention : public torch::nn::Module {
 public:
  explicit BertAttention(const ModelConfig& c)
      : self_(register_module("self", std::make_shared<BertSelfAttention>(c))),
        output_(register_module("output", std::make_shared<BertResidualOutput>(c.hidden_size, c))) {
  }

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    return output_->Forward(self_->Forward(x, mask), x);
  }

 private:
  std::shared_ptr<BertSelfAttention> self_;
  std::shared_ptr<BertResidualOutput> output_;
};

class BertLayer : public torch::nn::Module {
 public:
  explicit BertLayer(const ModelConfig& c)
      : attention_(register_module("attention", std::make_shared<BertAttention>(c))),
        intermediate_(register_module("intermediate", std::make_shared<torch::nn::Module>())),
        dense_(intermediate_->register_module("dense", Linear(c.hidden_size, c.intermediate_size))),
        output_(register_module("output",
                                std::make_shared<BertResidualOutput>(c.intermediate_size, c))),
        activation_(c.hidden_act) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    const at::Tensor attended = attention_->Forward(x, mask);
    return output_->Forward(Activate(dense_(attended), activation_), attended);
  }

 private:
  std::shared_ptr<BertAttention> attention_;
  std::shared_ptr<torch::nn::Module> intermediate_;  // holds "intermediate.dense"
  Linear dense_;
  std::shared_ptr<BertResidualOutput> output_;
  std::string activation_;
};

class BertModel : public Encoder {
 public:
  BertModel(const ModelConfig& c, bool with_pooler)
      : embeddings_(register_module("embeddings", std::make_shared<BertEmbeddings>(c))),
        encoder_(register_module("encoder", std::make_shared<torch::nn::Module>())),
        layers_(RegisterList<BertLayer>(*encoder_, "layer", c.num_hidden_layers,
                                        [&](int64_t) { return std::make_shared<BertLayer>(c); })) {
    if (with_pooler) {
      auto pooler = register_module("pooler", std::make_shared<torch::nn::Module>());
      pooler_dense_ = pooler->register_module("dense", Linear(c.hidden_size, c.hidden_size));
    }
  }

  EncoderOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& token_type_ids) override {
    EncoderOutput out;
    at::Tensor x = embeddings_->Forward(input_ids, token_type_ids);
    const at::Tensor mask = AdditiveMask(attention_mask, x.scalar_type());
    out.hidden_states.push_back(x);
    for (const auto& layer : layers_) {
      x = layer->Forward(x, mask);
      out.hidden_states.push_back(x);
    }
    if (!pooler_dense_.is_empty()) out.pooled = at::tanh(pooler_dense_(x.select(1, 0)));
    return out;
  }

 private:
  std::shared_ptr<BertEmbeddings> embeddings_;
  std::shared_ptr<torch::nn::Module> encoder_;  // holds "encoder.layer.N"
  std::vector<std::shared_ptr<BertLayer>> layers_;
  Linear pooler_dense_{nullptr};
};

}  // namespace

BertEmbeddings::BertEmbeddings(const ModelConfig& c) : dropout_(c.hidden_dropout_prob) {
  using torch::nn::Embedding;
  using torch::nn::EmbeddingOptions;
  const int64_t width = c.embedding_size;
  word_embeddings_ =
      register_module("word_embeddings",
                      Embedding(EmbeddingOptions(c.vocab_size, width).padding_idx(c.pad_token_id)));
  position_embeddings_ =
      register_module("position_embeddings", Embedding(c.max_position_embeddings, width));
  token_type_embeddings_ =
      register_module("token_type_embeddings", Embedding(c.type_vocab_size, width));
  layer_norm_ =
      register_module("LayerNorm", LayerNorm(LayerNormOptions({width}).eps(c.layer_norm_eps)));
}

at::Tensor BertEmbeddings::Forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  const at::Tensor types = token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
  const at::Tensor sum = word_embeddings_(input_ids) +
                         position_embeddings_(PositionIds(input_ids)) +
                         token_type_embeddings_(types);
  return at::dropout(layer_norm_(sum), dropout_, is_training());
}

std::shared_ptr<Encoder> MakeBertEncoder(const ModelConfig& config, bool with_pooler) {
  return std::make_shared<BertModel>(config, with_pooler);
}

}  // namespace istar::models::internal
