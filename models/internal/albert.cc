// ALBERT (Lan et al. 2020) as transformers' AlbertModel lays it out: factorised embeddings
// (embedding_size, mapped to hidden_size by encoder.embedding_hidden_mapping_in) and layer
// weights shared across groups.
//
// Note [ALBERT layer sharing]: the encoder holds num_hidden_groups groups, each of
// inner_group_num layers; step i of num_hidden_layers applies group i / (L / num_hidden_groups),
// i.e. all of that group's inner layers in order. With the released checkpoints (one group of
// one layer) the same weights run L times. hidden_states[0] is the output of
// embedding_hidden_mapping_in, as transformers reports it, and hidden_states[i + 1] the output of
// step i.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/internal/encoders.h"
#include "models/internal/layers.h"

namespace istar::models::internal {
namespace {

using torch::nn::LayerNorm;
using torch::nn::LayerNormOptions;
using torch::nn::Linear;

LayerNorm MakeNorm(const ModelConfig& c) {
  return LayerNorm(LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

class AlbertAttention : public torch::nn::Module {
 public:
  explicit AlbertAttention(const ModelConfig& c)
      : query_(register_module("query", Linear(c.hidden_size, c.hidden_size))),
        key_(register_module("key", Linear(c.hidden_size, c.hidden_size))),
        value_(register_module("value", Linear(c.hidden_size, c.hidden_size))),
        dense_(register_module("dense", Linear(c.hidden_size, c.hidden_size))),
        layer_norm_(register_module("LayerNorm", MakeNorm(c))),
        heads_(c.num_attention_heads),
        attention_dropout_(c.attention_probs_dropout_prob),
        output_dropout_(c.hidden_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    const at::Tensor context =
        Attend(query_(x), key_(x), value_(x), mask, heads_, attention_dropout_, is_training());
    return layer_norm_(x + at::dropout(dense_(context), output_dropout_, is_training()));
  }

 private:
  Linear query_, key_, value_, dense_;
  LayerNorm layer_norm_;
  int64_t heads_;
  double attention_dropout_;
  double output_dropout_;
};

class AlbertLayer : public torch::nn::Module {
 public:
  explicit AlbertLayer(const ModelConfig& c)
      : full_layer_layer_norm_(register_module("full_layer_layer_norm", MakeNorm(c))),
        attention_(register_module("attention", std::make_shared<AlbertAttention>(c))),
        ffn_(register_module("ffn", Linear(c.hidden_size, c.intermediate_size))),
        ffn_output_(register_module("ffn_output", Linear(c.intermediate_size, c.hidden_size))),
        activation_(c.hidden_act),
        dropout_(c.hidden_dropout_prob) {}

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& mask) {
    const at::Tensor attended = attention_->Forward(x, mask);
    const at::Tensor ffn = ffn_output_(Activate(ffn_(attended), activation_));
    return full_layer_layer_norm_(at::dropout(ffn, dropout_, is_training()) + attended);
  }

 private:
  LayerNorm full_layer_layer_norm_;
  std::shared_ptr<AlbertAttention> attention_;
  Linear ffn_, ffn_output_;
  std::string activation_;
  double dropout_;
};

class AlbertLayerGroup : public torch::nn::Module {
 public:
  explicit AlbertLayerGroup(const ModelConfig& c)
      : layers_(RegisterList<AlbertLayer>(*this, "albert_layers", c.inner_group_num, [&](int64_t) {
          return std::make_shared<AlbertLayer>(c);
        })) {}

  at::Tensor Forward(at::Tensor x, const at::Tensor& mask) {
    for (const auto& layer : layers_) x = layer->Forward(x, mask);
    return x;
  }

 private:
  std::vector<std::shared_ptr<AlbertLayer>> layers_;
};

class AlbertModel : public Encoder {
 public:
  AlbertModel(const ModelConfig& c, bool with_pooler)
      : embeddings_(register_module("embeddings", std::make_shared<BertEmbeddings>(c))),
        encoder_(register_module("encoder", std::make_shared<torch::nn::Module>())),
        mapping_in_(encoder_->register_module("embedding_hidden_mapping_in",
                                              Linear(c.embedding_size, c.hidden_size))),
        groups_(RegisterList<AlbertLayerGroup>(
            *encoder_, "albert_layer_groups", c.num_hidden_groups,
            [&](int64_t) { return std::make_shared<AlbertLayerGroup>(c); })),
        num_layers_(c.num_hidden_layers) {
    if (with_pooler) pooler_ = register_module("pooler", Linear(c.hidden_size, c.hidden_size));
  }

  // See Note [ALBERT layer sharing].
  EncoderOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& token_type_ids) override {
    EncoderOutput out;
    at::Tensor x = mapping_in_(embeddings_->Forward(input_ids, token_type_ids));
    const at::Tensor mask = AdditiveMask(attention_mask, x.scalar_type());
    out.hidden_states.push_back(x);
    const int64_t layers_per_group = num_layers_ / static_cast<int64_t>(groups_.size());
    for (int64_t i = 0; i < num_layers_; ++i) {
      x = groups_[i / layers_per_group]->Forward(x, mask);
      out.hidden_states.push_back(x);
    }
    if (!pooler_.is_empty()) out.pooled = at::tanh(pooler_(x.select(1, 0)));
    return out;
  }

 private:
  std::shared_ptr<BertEmbeddings> embeddings_;
  std::shared_ptr<torch::nn::Module> encoder_;
  Linear mapping_in_;
  std::vector<std::shared_ptr<AlbertLayerGroup>> groups_;
  int64_t num_layers_;
  Linear pooler_{nullptr};
};

}  // namespace

std::shared_ptr<Encoder> MakeAlbertEncoder(const ModelConfig& config, bool with_pooler) {
  return std::make_shared<AlbertModel>(config, with_pooler);
}

}  // namespace istar::models::internal
