// The three encoders behind models/model.h, each a torch::nn::Module whose parameter names are
// transformers' (BertModel, AlbertModel, DistilBertModel). Defined in bert.cc, albert.cc and
// distilbert.cc; created only through the factories below.
#ifndef ISTAR_MODELS_INTERNAL_ENCODERS_H_
#define ISTAR_MODELS_INTERNAL_ENCODERS_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <vector>

#include "models/config.h"

namespace istar::models::internal {

struct EncoderOutput {
  std::vector<at::Tensor> hidden_states;  // num_hidden_layers + 1 tensors [B, T, H]
  at::Tensor pooled;                      // [B, H]; undefined without a pooler
};

class Encoder : public torch::nn::Module {
 public:
  // input_ids, attention_mask [B, T] (mask defined, 1 = token); token_type_ids [B, T] or
  // undefined (zeros).
  virtual EncoderOutput Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                const at::Tensor& token_type_ids) = 0;
};

// BERT's and ALBERT's embeddings: word + position + token type, LayerNorm, dropout. Width is
// config.embedding_size (== hidden_size for BERT). Defined in bert.cc.
class BertEmbeddings : public torch::nn::Module {
 public:
  explicit BertEmbeddings(const ModelConfig& config);
  at::Tensor Forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

 private:
  torch::nn::Embedding word_embeddings_{nullptr};
  torch::nn::Embedding position_embeddings_{nullptr};
  torch::nn::Embedding token_type_embeddings_{nullptr};
  torch::nn::LayerNorm layer_norm_{nullptr};
  double dropout_;
};

// with_pooler: BertModel's add_pooling_layer (false under a question-answering head).
std::shared_ptr<Encoder> MakeBertEncoder(const ModelConfig& config, bool with_pooler);
std::shared_ptr<Encoder> MakeAlbertEncoder(const ModelConfig& config, bool with_pooler);
std::shared_ptr<Encoder> MakeDistilBertEncoder(const ModelConfig& config);

}  // namespace istar::models::internal

#endif  // ISTAR_MODELS_INTERNAL_ENCODERS_H_
