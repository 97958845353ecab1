// Recurrent layers: multi-layer, bidirectional RNN, LSTM and GRU unrolled by scan, with PyTorch's
// parameter names, shapes, initialization and results.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/carry.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {

/// The recurrence of a layer, as PyTorch's `mode` of nn.RNNBase.
enum class RecurrentMode { rnn_tanh, rnn_relu, lstm, gru };

/// The nonlinearity of an Elman RNN (PyTorch's `nonlinearity`).
enum class Nonlinearity { tanh, relu };

/// What a recurrent layer is made of and how it unrolls. The first seven fields are PyTorch's
/// constructor arguments with its defaults; the rest are tapeloop's.
struct RecurrentOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  int num_layers = 1;
  bool bias = true;
  /// Input and output are [B,T,...] instead of [T,B,...].
  bool batch_first = false;
  /// Dropout probability on the output of every layer but the last, in training mode only.
  double dropout = 0.0;
  bool bidirectional = false;
  /// Seed of the Generator the dropout masks are drawn from.
  std::uint64_t dropout_seed = 0;
  /// Passed to scan: checkpointed segments of this many steps (0: full BPTT), or truncated BPTT
  /// every this many steps (0: none). Not both.
  int checkpoint = 0;
  int truncate = 0;
  /// Each step through the fused gate operators (lstm_cell_fused, gru_cell_fused); false uses
  /// the generic cells of cells.hpp (same results; the reference the fused path is tested on).
  bool fused = true;
  /// Stack the top layer's outputs. false for many-to-one models that read only h_n (and c_n):
  /// forward then returns an empty `output` and the top layer keeps no per-step outputs.
  bool collect_outputs = true;
};

/// The initial state given to forward: h0 [L*D,B,H], and c0 for an LSTM (`{h0, c0}`, or just
/// `h0`). An empty Var means zeros. L = num_layers, D = 2 if bidirectional else 1,
/// H = hidden_size.
template <class T>
struct RecurrentState {
  RecurrentState(const Var<T>& h0 = {}, const Var<T>& c0 = {}) : h(h0), c(c0) {}
  /// {h} or {h, c}, as a Carry of the layer (RecurrentLayer::carry) reads it.
  RecurrentState(const State<T>& s)  // NOLINT: carry.read(tape) passes straight to forward
      : h(s.size() > 0 ? s[0] : Var<T>{}), c(s.size() > 1 ? s[1] : Var<T>{}) {}
  Var<T> h;
  Var<T> c;
};

/// What forward returns: output [T,B,D*H] ([B,T,D*H] if batch_first) — the top layer's h at
/// every step, both directions side by side (forward first), zero past a sequence's length —
/// and the final states h_n, c_n [L*D,B,H] (layer-major, forward before reverse), taken at
/// each sequence's own end. c_n is empty unless the layer is an LSTM.
template <class T>
struct RecurrentResult {
  Var<T> output;
  Var<T> h_n;
  Var<T> c_n;

  /// {h_n} or {h_n, c_n}: what a Carry keeps for the next recording (carry.write).
  State<T> state() const { return c_n.empty() ? State<T>{h_n} : State<T>{h_n, c_n}; }
};

/// A stack of recurrent layers, PyTorch's nn.RNN / nn.LSTM / nn.GRU. Parameters, in PyTorch's
/// order and shapes (G = 1, 4 or 3 gates; LSTM gates i, f, g, o; GRU r, z, n), for each layer
/// k and direction (the reverse one suffixed "_reverse"):
///
///   weight_ih_l{k} [G*H, I_k]   weight_hh_l{k} [G*H, H]   bias_ih_l{k}, bias_hh_l{k} [G*H]
///
/// with I_0 = input_size and I_k = D*H above, all U(±1/sqrt(H)) drawn from `rng` in that
/// order — so a state dict moves between the two by name. Each layer and direction projects
/// its whole input with one GEMM (linear(xs, W_ih, b_ih) -> [T,B,G*H]); scan then unrolls
/// one step per time index: h W_hh^T + b_hh and the gate operator. The fused RNN and LSTM
/// steps add b_ih + b_hh in the projection instead (the same sum, rounded in another order).
template <class T = float>
class RecurrentLayer : public Module<T> {
 public:
  /// Throws ValueError for sizes below 1, a dropout outside [0, 1), negative or combined
  /// checkpoint and truncate.
  RecurrentLayer(RecurrentMode mode, const RecurrentOptions& options, Generator& rng);

  /// Runs the layers over `input` [T,B,input_size] ([B,T,input_size] if batch_first) from
  /// `initial` (zeros where empty), with optional per-sequence `lengths` (one per batch entry,
  /// in [0, T]): as PyTorch's packed sequences, each sequence stops at its length and the
  /// reverse direction starts at its own last step. Shapes that do not fit throw ShapeError
  /// naming the layer and the shapes, before anything is recorded. Recording allocates no heap
  /// memory.
  RecurrentResult<T> forward(Tape<T>& tape, const Var<T>& input,
                             const RecurrentState<T>& initial = {},
                             std::span<const std::int64_t> lengths = {});

  /// forward with the parameters given as Vars of the tape, one per named_parameters() entry
  /// in that order (for gradient checks of the layer, or weights computed on the tape).
  RecurrentResult<T> forward_with(std::span<const Var<T>> weights, Tape<T>& tape,
                                  const Var<T>& input, const RecurrentState<T>& initial = {},
                                  std::span<const std::int64_t> lengths = {});

  /// A Carry holding this layer's state for `batch` sequences: {h} or, for an LSTM, {h, c},
  /// each [L*D,batch,H], zero. For stateful truncated BPTT and generation:
  ///   forward(tape, x, carry.read(tape)), then carry.write(result.state()).
  Carry<T> carry(std::int64_t batch) const;
  /// The parameters of layer `layer`, forward or reverse direction. The biases throw
  /// ValueError when the layer was built without them.
  Parameter<T>& weight_ih(int layer, bool reverse = false) { return at(layer, reverse, 0); }
  Parameter<T>& weight_hh(int layer, bool reverse = false) { return at(layer, reverse, 1); }
  Parameter<T>& bias_ih(int layer, bool reverse = false) { return at(layer, reverse, 2); }
  Parameter<T>& bias_hh(int layer, bool reverse = false) { return at(layer, reverse, 3); }

  /// The Generator the dropout masks between layers are drawn from (seeded with
  /// options.dropout_seed): its state goes into a checkpoint for a bit-exact resume.
  Generator& dropout_generator() { return dropout_rng_; }
  RecurrentMode mode() const { return mode_; }
  const RecurrentOptions& options() const { return options_; }
  int directions() const { return options_.bidirectional ? 2 : 1; }
  /// G: 1 for an RNN, 4 for an LSTM, 3 for a GRU.
  int gates() const;
  /// "RNN", "LSTM" or "GRU", the start of every error message.
  const char* name() const;

  void visit(ModuleVisitor<T>& v) override;

 private:
  int per_direction() const { return options_.bias ? 4 : 2; }
  Parameter<T>& at(int layer, bool reverse, int which);
  void check_call(Tape<T>& tape, const Var<T>& input, const RecurrentState<T>& initial,
                  std::span<const std::int64_t> lengths) const;
  void check_weights(std::span<const Var<T>> weights) const;
  // The layers over checked arguments.
  RecurrentResult<T> run(std::span<const Var<T>> weights, Tape<T>& tape, const Var<T>& input,
                         const RecurrentState<T>& initial, std::span<const std::int64_t> lengths);

  RecurrentMode mode_;
  RecurrentOptions options_;
  std::vector<Parameter<T>> params_;  // per layer, per direction: w_ih, w_hh[, b_ih, b_hh]
  std::vector<std::string> names_;    // PyTorch's names, index for index
  Generator dropout_rng_;
};

/// An Elman RNN, h' = tanh or relu(x W_ih^T + b_ih + h W_hh^T + b_hh) (PyTorch's nn.RNN).
template <class T = float>
class RNN : public RecurrentLayer<T> {
 public:
  RNN(const RecurrentOptions& options, Generator& rng,
      Nonlinearity nonlinearity = Nonlinearity::tanh)
      : RecurrentLayer<T>(
            nonlinearity == Nonlinearity::relu ? RecurrentMode::rnn_relu : RecurrentMode::rnn_tanh,
            options, rng) {}
};

/// PyTorch's nn.LSTM: state {h, c}, gates i, f, g, o.
template <class T = float>
class LSTM : public RecurrentLayer<T> {
 public:
  LSTM(const RecurrentOptions& options, Generator& rng)
      : RecurrentLayer<T>(RecurrentMode::lstm, options, rng) {}
};

/// PyTorch's nn.GRU: gates r, z, n, with r applied to h W_hn^T + b_hn.
template <class T = float>
class GRU : public RecurrentLayer<T> {
 public:
  GRU(const RecurrentOptions& options, Generator& rng)
      : RecurrentLayer<T>(RecurrentMode::gru, options, rng) {}
};

extern template class RecurrentLayer<float>;
extern template class RecurrentLayer<double>;

}  // namespace tapeloop::models
