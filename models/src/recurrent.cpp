// RNN, LSTM and GRU layers: parameters in PyTorch's layout, one input GEMM per layer and
// direction, and the recurrence unrolled by scan with a fused or a generic step.
#include "tapeloop/models/recurrent.hpp"

#include <sstream>
#include <string>

#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/dropout.hpp"
#include "tapeloop/ops/index.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/packed_sequence.hpp"
#include "tapeloop/ops/recurrent.hpp"
#include "tapeloop/ops/recurrent_linear.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/rule.hpp"
#include "tapeloop/scan.hpp"

namespace tapeloop::models {
namespace {

// h W_hh^T + b_hh, or h W_hh^T when the layer has no bias (weights = {W_hh}).
template <class T>
Var<T> recurrent_product(std::span<const Var<T>> w, const Var<T>& h) {
  return w.size() > 1 ? linear(h, w[0], w[1]) : linear(h, w[0]);
}

// One time step given xw_t = x_t W_ih^T + b_ih (projected for all steps before the loop), with
// the recurrent product h W_hh^T + b_hh made by `product`. Emits h as the step's output.
template <class T, class Product>
StepResult<T> recurrent_step(RecurrentMode mode, bool fused, Product product,
                             std::span<const Var<T>> w, const State<T>& s, const Var<T>& xw_t) {
  auto step = [](const Var<T>& h) { return StepResult<T>{State<T>{h}, h}; };
  if (fused) {
    const Var<T> gh = product(s[0]);
    switch (mode) {
      case RecurrentMode::rnn_tanh:
        return step(rnn_cell_fused(xw_t, gh, RnnActivation::tanh));
      case RecurrentMode::rnn_relu:
        return step(rnn_cell_fused(xw_t, gh, RnnActivation::relu));
      case RecurrentMode::lstm: {
        // gi + gh summed inside the cell: no [B,4H] add recorded per step.
        const LstmState<T> next = lstm_cell_fused(xw_t, gh, s[1]);
        return {State<T>{next.h, next.c}, next.h};
      }
      case RecurrentMode::gru:
        // gh stays apart from gi: r scales all of h W_hn^T + b_hn.
        return step(gru_cell_fused(xw_t, gh, s[0]));
    }
  }
  const Var<T> b_hh = w.size() > 1 ? w[1] : Var<T>{};
  switch (mode) {
    case RecurrentMode::rnn_tanh:
      return step(rnn_cell_tanh_projected(xw_t, s[0], w[0], b_hh));
    case RecurrentMode::rnn_relu:
      return step(rnn_cell_relu_projected(xw_t, s[0], w[0], b_hh));
    case RecurrentMode::lstm: {
      const LstmState<T> next = lstm_cell_projected(xw_t, {s[0], s[1]}, w[0], b_hh);
      return {State<T>{next.h, next.c}, next.h};
    }
    case RecurrentMode::gru:
      return step(gru_cell_projected(xw_t, s[0], w[0], b_hh));
  }
  return {s, s[0]};  // unreachable: every mode is handled above
}

// The step as plain data, reading everything from its weights: what checkpointed_scan copies
// into the tape and runs again in backward.
template <class T>
struct ReplayableStep {
  RecurrentMode mode;
  bool fused;

  StepResult<T> operator()(std::span<const Var<T>> w, const State<T>& s, const Var<T>& x) const {
    auto product = [&](const Var<T>& h) { return recurrent_product(w, h); };
    return recurrent_step(mode, fused, product, w, s, x);
  }
};

// Whether the fused step's recurrent product adds into the input projection's rows (one gate
// buffer and one gate gradient per layer and direction): the RNN and the LSTM. The GRU cannot:
// r scales h W_hn^T + b_hn, so gh stays apart from gi.
bool adds_into_projection(RecurrentMode mode) {
  return mode != RecurrentMode::gru;
}

// The step with the recurrent product over the whole sequence (one weight-gradient GEMM for all
// steps, on a packed weight), which lives for one scan call: scan only, never checkpointed. For
// the RNN and the LSTM the product is made on xw and adds h W_hh^T into step t's rows of it, so
// the cell reads its gates from one buffer. The gate arithmetic is the fused operator's, or the
// generic operators' (cells.hpp, *_from_gates).
template <class T>
struct SequenceStep {
  RecurrentMode mode;
  bool fused;
  RecurrentLinear<T>& product;

  StepResult<T> operator()(std::span<const Var<T>>, const State<T>& s, const Var<T>& x) const {
    auto step = [](const Var<T>& h) { return StepResult<T>{State<T>{h}, h}; };
    if (mode == RecurrentMode::gru) {
      const Var<T> gh = product(s[0]);
      return step(fused ? gru_cell_fused(x, gh, s[0]) : gru_cell_from_gates(x, gh, s[0]));
    }
    const Var<T> gates = product(s[0], x);  // x_t W_ih^T + b + h W_hh^T, in x_t's rows
    switch (mode) {
      case RecurrentMode::lstm: {
        const LstmState<T> next =
            fused ? lstm_cell_fused(gates, s[1]) : lstm_cell_from_gates(gates, {s[0], s[1]});
        return {State<T>{next.h, next.c}, next.h};
      }
      case RecurrentMode::rnn_relu:
        return step(fused ? rnn_cell_fused(gates, RnnActivation::relu) : relu(gates));
      default:
        return step(fused ? rnn_cell_fused(gates, RnnActivation::tanh) : tanh(gates));
    }
  }
};

const char* mode_name(RecurrentMode mode) {
  switch (mode) {
    case RecurrentMode::lstm:
      return "LSTM";
    case RecurrentMode::gru:
      return "GRU";
    default:
      return "RNN";
  }
}

// Validates the options before anything is built, naming the layer.
const RecurrentOptions& checked(RecurrentMode mode, const RecurrentOptions& o) {
  const std::string who = mode_name(mode);
  auto positive = [&](const char* what, std::int64_t n) {
    if (n < 1) throw ValueError(who + ": " + what + " " + std::to_string(n) + " is not positive");
  };
  positive("input_size", o.input_size);
  positive("hidden_size", o.hidden_size);
  positive("num_layers", o.num_layers);
  if (!(o.dropout >= 0.0 && o.dropout < 1.0)) {
    std::ostringstream s;
    s << who << ": dropout " << o.dropout << " is outside [0, 1)";
    throw ValueError(s.str());
  }
  check_truncation(who.c_str(), o.truncate, o.checkpoint);
  return o;
}

}  // namespace

template <class T>
RecurrentLayer<T>::RecurrentLayer(RecurrentMode mode, const RecurrentOptions& options,
                                  Generator& rng)
    : mode_(mode), options_(checked(mode, options)), dropout_rng_(options.dropout_seed) {
  const std::int64_t H = options_.hidden_size, rows = gates() * H;
  static const char* const kinds[] = {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"};
  for (int layer = 0; layer < options_.num_layers; ++layer) {
    const std::int64_t in = layer == 0 ? options_.input_size : directions() * H;
    for (int d = 0; d < directions(); ++d) {
      const Shape shapes[] = {{rows, in}, {rows, H}, {rows}, {rows}};
      for (int k = 0; k < per_direction(); ++k) {
        std::string name = kinds[k] + std::to_string(layer) + (d == 1 ? "_reverse" : "");
        // PyTorch draws every parameter from U(±1/sqrt(H)) in registration order.
        Tensor<T> value(shapes[k]);
        init::rnn_default(value, H, rng);
        params_.emplace_back(std::move(value), name);
        names_.push_back(std::move(name));
      }
    }
  }
}

template <class T>
int RecurrentLayer<T>::gates() const {
  return mode_ == RecurrentMode::lstm ? 4 : mode_ == RecurrentMode::gru ? 3 : 1;
}

template <class T>
const char* RecurrentLayer<T>::name() const {
  return mode_name(mode_);
}

template <class T>
Carry<T> RecurrentLayer<T>::carry(std::int64_t batch) const {
  if (batch < 1) {
    throw ValueError(std::string(name()) + "::carry: batch " + std::to_string(batch) +
                     " must be at least 1");
  }
  const Shape shape{options_.num_layers * directions(), batch, options_.hidden_size};
  if (mode_ == RecurrentMode::lstm) return Carry<T>{shape, shape};
  return Carry<T>{shape};
}

template <class T>
Parameter<T>& RecurrentLayer<T>::at(int layer, bool reverse, int which) {
  if (layer < 0 || layer >= options_.num_layers || (reverse && !options_.bidirectional)) {
    throw ValueError(std::string(name()) + ": no layer " + std::to_string(layer) +
                     (reverse ? " reverse" : "") + " in " + std::to_string(options_.num_layers) +
                     (options_.bidirectional ? " bidirectional" : "") + " layers");
  }
  if (which >= per_direction()) throw ValueError(std::string(name()) + ": built without biases");
  return params_[static_cast<std::size_t>((layer * directions() + reverse) * per_direction() +
                                          which)];
}

template <class T>
void RecurrentLayer<T>::visit(ModuleVisitor<T>& v) {
  for (std::size_t i = 0; i < params_.size(); ++i) v.parameter(names_[i], params_[i]);
}

template <class T>
void RecurrentLayer<T>::check_weights(std::span<const Var<T>> weights) const {
  if (weights.size() != params_.size()) {
    throw ValueError(std::string(name()) + ": " + std::to_string(weights.size()) +
                     " weights given, expected " + std::to_string(params_.size()) +
                     " (named_parameters() order)");
  }
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].shape() != params_[i].shape()) {
      throw ShapeError(std::string(name()) + ": weight " + names_[i] + " " +
                       weights[i].shape().str() + ": expected " + params_[i].shape().str());
    }
  }
}

template <class T>
void RecurrentLayer<T>::check_call(Tape<T>& tape, const Var<T>& input,
                                   const RecurrentState<T>& initial,
                                   std::span<const std::int64_t> lengths) const {
  // Messages are built only on failure: a training step must not touch the heap.
  auto head = [&] { return std::string(name()) + ": "; };
  const RecurrentOptions& o = options_;
  check_live(name(), input, tape);
  const Shape in = input.shape();
  if (in.rank() != 3 || in[2] != o.input_size || in[0] < 1 || in[1] < 1) {
    throw ShapeError(head() + "input " + in.str() + ": expected " +
                     (o.batch_first ? "[B,T," : "[T,B,") + std::to_string(o.input_size) +
                     "] (input_size " + std::to_string(o.input_size) +
                     ", at least one step and one sequence)");
  }
  const std::int64_t steps = in[o.batch_first ? 1 : 0], batch = in[o.batch_first ? 0 : 1];
  const Shape state_shape{o.num_layers * directions(), batch, o.hidden_size};
  auto check_state = [&](const Var<T>& s, const char* what) {
    if (s.empty()) return;
    check_live(name(), s, tape);
    if (s.shape() != state_shape) {
      throw ShapeError(head() + what + " " + s.shape().str() + ": expected " + state_shape.str() +
                       " (num_layers * directions, batch, hidden_size) for input " + in.str());
    }
  };
  check_state(initial.h, "h0");
  if (mode_ != RecurrentMode::lstm && !initial.c.empty()) {
    throw ValueError(head() + "c0 given, but only an LSTM has a cell state");
  }
  check_state(initial.c, "c0");
  check_sequence_lengths(name(), lengths, batch, steps, "input", in);
}

template <class T>
RecurrentResult<T> RecurrentLayer<T>::forward(Tape<T>& tape, const Var<T>& input,
                                              const RecurrentState<T>& initial,
                                              std::span<const std::int64_t> lengths) {
  check_call(tape, input, initial, lengths);  // before the parameters are recorded
  Var<T>* weights = arena_vars(tape, params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i) weights[i] = params_[i].var(tape);
  return run(std::span<const Var<T>>(weights, params_.size()), tape, input, initial, lengths);
}

template <class T>
RecurrentResult<T> RecurrentLayer<T>::forward_with(std::span<const Var<T>> weights, Tape<T>& tape,
                                                   const Var<T>& input,
                                                   const RecurrentState<T>& initial,
                                                   std::span<const std::int64_t> lengths) {
  // Everything is checked before anything is recorded: a failed call leaves the tape as it was.
  check_call(tape, input, initial, lengths);
  check_weights(weights);
  return run(weights, tape, input, initial, lengths);
}

template <class T>
RecurrentResult<T> RecurrentLayer<T>::run(std::span<const Var<T>> weights, Tape<T>& tape,
                                          const Var<T>& input, const RecurrentState<T>& initial,
                                          std::span<const std::int64_t> lengths) {
  const RecurrentOptions& o = options_;
  const bool lstm = mode_ == RecurrentMode::lstm;
  // Time-major inside: a step of xw is then a view, select(xw, 0, t), not a copy.
  const Var<T> xs = o.batch_first ? transpose(input, 0, 1) : input;
  const std::int64_t steps = xs.dim(0), batch = xs.dim(1);
  const int D = directions(), L = o.num_layers;
  const Shape state_shape{L * D, batch, o.hidden_size};
  const Var<T> h0 = initial.h.empty() ? tape.zeros(state_shape) : initial.h;
  const Var<T> c0 = !lstm               ? Var<T>{}
                    : initial.c.empty() ? (initial.h.empty() ? h0 : tape.zeros(state_shape))
                                        : initial.c;
  const std::size_t finals = static_cast<std::size_t>(L * D);
  Var<T>* h_n = arena_vars(tape, finals);
  Var<T>* c_n = lstm ? arena_vars(tape, finals) : nullptr;
  const std::size_t per = static_cast<std::size_t>(per_direction());

  // Variable lengths are packed (ops/packed_sequence.hpp): sorted longest first, every step
  // runs only the sequences that have not ended, and the projections skip the padding. A
  // checkpointed scan, which records segments again in backward, masks instead; so does a
  // batch whose lengths are all T (nothing to skip) or all 0 (nothing to run).
  std::int64_t packed_rows = 0;
  for (std::int64_t length : lengths) packed_rows += length;
  const bool packed = o.checkpoint == 0 && packed_rows > 0 && packed_rows < steps * batch;
  PackedLayout layout;
  if (packed) layout = packed_layout(tape, lengths, steps);
  const bool reorder = packed && !layout.sorted;

  Var<T> layer_input = packed ? pack_sequence(xs, layout) : xs;
  for (int layer = 0; layer < L; ++layer) {
    const bool top = layer == L - 1;
    // Between layers, in training only. The mask covers the whole [T,B,D*H] output, drawn
    // outside scan, so a checkpointed segment recorded again in backward reuses it.
    if (layer > 0 && o.dropout > 0.0 && this->training()) {
      layer_input = dropout(layer_input, static_cast<T>(o.dropout), dropout_rng_);
    }
    Var<T> outputs[2];
    for (int d = 0; d < D; ++d) {
      const int k = layer * D + d;
      const Var<T>* w = weights.data() + static_cast<std::size_t>(k) * per;
      // The RNN and LSTM steps add b_hh to the input projection, as oneDNN does: one bias row
      // added per step instead of two, and no column sums of the steps' gradients for b_hh
      // (it gets b_ih's). The GRU cannot: r scales h W_hn^T + b_hn.
      const bool fold_bias = o.bias && adds_into_projection(mode_);
      // All T steps of the input projection in one GEMM: [T,B,I_k] -> [T,B,G*H] (packed:
      // [rows,I_k] -> [rows,G*H]).
      const Var<T> xw = !o.bias ? linear(layer_input, w[0])
                                : linear(layer_input, w[0], fold_bias ? w[2] + w[3] : w[2]);
      const Var<T> recurrent[2] = {w[1], o.bias ? w[3] : Var<T>{}};
      // Packed, the states are in the layout's sorted batch order.
      auto initial = [&](const Var<T>& all) {
        const Var<T> s = select(all, 0, k);
        return reorder ? index_select(s, 0, layout.sorted_indices) : s;
      };
      State<T> state0{initial(h0)};
      if (lstm) state0.push_back(initial(c0));
      ScanOptions so;
      so.reverse = d == 1;
      if (packed) {
        so.batch_sizes = layout.batch_sizes;
      } else {
        so.lengths = lengths;
      }
      so.truncate = o.truncate;
      so.collect_outputs = !top || o.collect_outputs;
      const std::span<const Var<T>> wr(recurrent, o.bias && !fold_bias ? 2 : 1);
      ScanResult<T> r;
      if (o.checkpoint > 0) {
        r = checkpointed_scan(tape, ReplayableStep<T>{mode_, o.fused}, xw, state0, wr, o.checkpoint,
                              so);
      } else {
        const Var<T> b_hh = wr.size() > 1 ? wr[1] : Var<T>{};
        RecurrentLinear<T> product = adds_into_projection(mode_)
                                         ? RecurrentLinear<T>(wr[0], b_hh, batch, xw)
                                         : RecurrentLinear<T>(wr[0], b_hh, batch, steps);
        r = scan(tape, SequenceStep<T>{mode_, o.fused, product}, xw, state0, wr, so);
      }
      outputs[d] = r.outputs;
      auto final_state = [&](const Var<T>& s) {
        return reorder ? index_select(s, 0, layout.unsorted_indices) : s;
      };
      h_n[k] = final_state(r.state[0]);
      if (lstm) c_n[k] = final_state(r.state[1]);
    }
    if (!top || o.collect_outputs) {
      layer_input = D == 2 ? concat({outputs[0], outputs[1]}, packed ? 1 : 2) : outputs[0];
    }
  }
  if (packed && o.collect_outputs) layer_input = unpack_sequence(layer_input, layout);

  RecurrentResult<T> result;
  if (o.collect_outputs) result.output = o.batch_first ? transpose(layer_input, 0, 1) : layer_input;
  result.h_n = stack(std::span<const Var<T>>(h_n, finals), 0);
  if (lstm) result.c_n = stack(std::span<const Var<T>>(c_n, finals), 0);
  return result;
}

template class RecurrentLayer<float>;
template class RecurrentLayer<double>;

}  // namespace tapeloop::models
