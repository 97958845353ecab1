// Basic modules: Linear, Embedding, LayerNorm and Dropout, with PyTorch's parameter shapes and
// initialization.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "tapeloop/models/module.hpp"
#include "tapeloop/ops/dropout.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {

/// y = x W^T + b: weight [out, in], bias [out] (optional), both initialized as PyTorch's
/// nn.Linear, U(±1/sqrt(in)) drawn from `rng` (weight first). Parameters "weight", "bias".
template <class T = float>
class Linear : public Module<T> {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& rng, bool bias = true);

  /// x [..., in] -> [..., out] through the linear operator (one GEMM).
  Var<T> forward(const Var<T>& x);

  std::int64_t in_features() const { return weight.shape()[1]; }
  std::int64_t out_features() const { return weight.shape()[0]; }
  void visit(ModuleVisitor<T>& v) override;

  Parameter<T> weight;
  std::optional<Parameter<T>> bias;
};

/// A lookup table: weight [num_embeddings, embedding_dim], N(0, 1) as PyTorch's nn.Embedding.
/// Parameter "weight". Its gradient is a scatter-add, so repeated ids accumulate.
template <class T = float>
class Embedding : public Module<T> {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Generator& rng);

  /// The rows of `ids`, a tensor of shape `ids_shape` in row-major order, giving
  /// [ids_shape..., embedding_dim] (index_select, then a reshape view). An id outside
  /// [0, num_embeddings) throws ValueError; a count that is not ids_shape.numel() ShapeError.
  Var<T> forward(Tape<T>& tape, std::span<const std::int64_t> ids, const Shape& ids_shape);

  std::int64_t num_embeddings() const { return weight.shape()[0]; }
  std::int64_t embedding_dim() const { return weight.shape()[1]; }
  void visit(ModuleVisitor<T>& v) override;

  Parameter<T> weight;
};

/// torch.nn.LayerNorm: layer_norm over the trailing axes of normalized_shape, each slice moved to
/// mean 0 and variance 1 (eps added to the variance), then scaled by "weight" (ones) and shifted
/// by "bias" (zeros), both of normalized_shape. elementwise_affine = false has neither (no
/// parameters); bias = false keeps the weight alone. The names and shapes are PyTorch's, so a
/// state dict moves between the two by name.
template <class T = float>
class LayerNorm : public Module<T> {
 public:
  /// ValueError naming LayerNorm for an empty normalized_shape (torch refuses it too: there
  /// would be nothing to normalize over) or eps < 0 or NaN.
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true);

  /// x [..., normalized_shape...] -> the same shape, through the layer_norm operator (one node).
  /// ShapeError from the operator when x does not end in normalized_shape.
  Var<T> forward(const Var<T>& x);

  const Shape& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }
  bool elementwise_affine() const { return weight.has_value(); }
  void visit(ModuleVisitor<T>& v) override;

  std::optional<Parameter<T>> weight;
  std::optional<Parameter<T>> bias;

 private:
  Shape normalized_shape_;
  double eps_;
};

/// Inverted dropout with probability p while training; the identity in evaluation mode. Holds
/// its own Generator, so a seed fixes the sequence of masks. No parameters: a module lists it
/// with v.module(name, dropout) so that train()/eval() reach it.
class Dropout : public TrainMode {
 public:
  /// p in [0, 1) (ValueError otherwise).
  explicit Dropout(double p, std::uint64_t seed = 0);

  template <class T>
  Var<T> forward(const Var<T>& x) {
    if (!training() || p_ == 0.0) return x;
    return dropout(x, static_cast<T>(p_), rng_);
  }

  double p() const { return p_; }
  Generator& generator() { return rng_; }

 private:
  double p_;
  Generator rng_;
};

extern template class Linear<float>;
extern template class Linear<double>;
extern template class Embedding<float>;
extern template class Embedding<double>;
extern template class LayerNorm<float>;
extern template class LayerNorm<double>;

}  // namespace tapeloop::models
