// Linear, Embedding, LayerNorm and Dropout: construction with PyTorch's initialization, and
// forward.
#include "tapeloop/models/layers.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "tapeloop/models/init.hpp"
#include "tapeloop/ops/index.hpp"
#include "tapeloop/ops/layer_norm.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/shape_ops.hpp"

namespace tapeloop::models {
namespace {

void check_size(const char* module, const char* what, std::int64_t n) {
  if (n < 0) {
    throw ValueError(std::string(module) + ": " + what + " " + std::to_string(n) + " is negative");
  }
}

}  // namespace

template <class T>
Linear<T>::Linear(std::int64_t in_features, std::int64_t out_features, Generator& rng, bool bias) {
  check_size("Linear", "in_features", in_features);
  check_size("Linear", "out_features", out_features);
  // nn.Linear: kaiming_uniform(a = sqrt(5)) on the weight, which is U(±1/sqrt(in)), and the same
  // bound for the bias; 0 when there are no inputs.
  const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
  weight = Parameter<T>(Tensor<T>({out_features, in_features}), "weight");
  init::uniform(weight.value(), bound, rng);
  if (bias) {
    this->bias.emplace(Tensor<T>({out_features}), "bias");
    init::uniform(this->bias->value(), bound, rng);
  }
}

template <class T>
Var<T> Linear<T>::forward(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  if (bias) return linear(x, weight.var(tape), bias->var(tape));
  return linear(x, weight.var(tape));
}

template <class T>
void Linear<T>::visit(ModuleVisitor<T>& v) {
  v.parameter("weight", weight);
  if (bias) v.parameter("bias", *bias);
}

template <class T>
Embedding<T>::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Generator& rng) {
  check_size("Embedding", "num_embeddings", num_embeddings);
  check_size("Embedding", "embedding_dim", embedding_dim);
  weight =
      Parameter<T>(Tensor<T>::normal({num_embeddings, embedding_dim}, T(0), T(1), rng), "weight");
}

template <class T>
Var<T> Embedding<T>::forward(Tape<T>& tape, std::span<const std::int64_t> ids,
                             const Shape& ids_shape) {
  const auto count = static_cast<std::int64_t>(ids.size());
  if (count != ids_shape.numel()) {
    throw ShapeError("Embedding: " + std::to_string(count) + " ids for ids of shape " +
                     ids_shape.str() + " (" + std::to_string(ids_shape.numel()) + " elements)");
  }
  if (ids_shape.rank() >= Shape::max_rank) {
    throw ShapeError("Embedding: ids of shape " + ids_shape.str() +
                     ": the result would have more than " + std::to_string(Shape::max_rank) +
                     " dimensions");
  }
  const std::int64_t num = num_embeddings();
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t id = ids[static_cast<std::size_t>(k)];
    if (id < 0 || id >= num) {
      throw ValueError("Embedding: id " + std::to_string(id) + " at position " + std::to_string(k) +
                       " is out of range for " + std::to_string(num) + " embeddings");
    }
  }
  Shape out_shape = ids_shape;
  out_shape.push_back(embedding_dim());
  return reshape(index_select(weight.var(tape), 0, ids), out_shape);
}

template <class T>
void Embedding<T>::visit(ModuleVisitor<T>& v) {
  v.parameter("weight", weight);
}

template <class T>
LayerNorm<T>::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine, bool bias)
    : normalized_shape_(normalized_shape), eps_(eps) {
  if (normalized_shape.rank() == 0) {
    throw ValueError("LayerNorm: normalized_shape is empty; it needs at least one axis");
  }
  if (!(eps >= 0.0)) {  // NaN fails too
    std::ostringstream s;
    s << "LayerNorm: eps = " << eps << " must be >= 0";
    throw ValueError(s.str());
  }
  if (elementwise_affine) {
    weight.emplace(Tensor<T>::ones(normalized_shape), "weight");
    if (bias) this->bias.emplace(Tensor<T>::zeros(normalized_shape), "bias");
  }
}

template <class T>
Var<T> LayerNorm<T>::forward(const Var<T>& x) {
  Tape<T>& tape = x.tape();
  if (!weight) return layer_norm(x, normalized_shape_, {}, {}, eps_);
  if (!bias) return layer_norm(x, normalized_shape_, weight->var(tape), {}, eps_);
  return layer_norm(x, normalized_shape_, weight->var(tape), bias->var(tape), eps_);
}

template <class T>
void LayerNorm<T>::visit(ModuleVisitor<T>& v) {
  if (weight) v.parameter("weight", *weight);
  if (bias) v.parameter("bias", *bias);
}

Dropout::Dropout(double p, std::uint64_t seed) : p_(p), rng_(seed) {
  if (!(p >= 0.0 && p < 1.0)) {
    std::ostringstream s;
    s << "Dropout: p = " << p << " is outside [0, 1)";
    throw ValueError(s.str());
  }
}

template class Linear<float>;
template class Linear<double>;
template class Embedding<float>;
template class Embedding<double>;
template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace tapeloop::models
