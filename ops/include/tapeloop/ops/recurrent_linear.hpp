// RecurrentLinear: h W^T + b at every step of a recurrence, the weight's gradient summed over
// all steps by one GEMM instead of one small GEMM per step.
#pragma once

#include <cstdint>

#include "tapeloop/var.hpp"

namespace tapeloop {
namespace detail {

// The weight packed for the GEMM kernel once per loop, in the tape's arena: W^T as the right
// operand of every step's forward product, and W as that of dx = g W, packed by the first step
// whose backward needs it (the last one: the sweep runs backwards). Null below 4 rows.
template <class T>
struct PackedRecurrentWeight {
  const T* forward = nullptr;
  T* backward = nullptr;
  bool* backward_ready = nullptr;
};

}  // namespace detail

/// The recurrent product of an unrolled loop, y_t = h_t W^T + b for t = 0, 1, ..., with the
/// same weight [O, I] and bias [O] (which may be an empty Var) at every step.
///
/// Backpropagation through time leaves in W the sum over the steps of g_t^T h_t. `linear` at
/// every step computes it as one GEMM per step whose inner dimension is the batch (32 rows, say),
/// which is slow: C is read and written once per step and the product is too thin for the BLAS
/// kernel. RecurrentLinear records one node holding every step's output and keeps a copy of
/// every h_t; each step's output is a view of that node, whose backward rule computes only
/// dh_t += g_t W (needed at once by the step before). When the reverse sweep has passed every
/// step it reaches the shared node, which adds the whole sum into the weight's gradient as
/// one GEMM over all steps' rows, and the bias's as one column sum — the layout oneDNN's RNN
/// primitives use. With 4 rows or more, W is packed for the GEMM kernel once, when the object
/// is made, instead of by the BLAS at every step (docs/kernels.md). Values and gradients are
/// the sums `linear` forms, in another order (equal to rounding).
///
/// The contract, checked: made before the loop with room for `steps` calls on inputs
/// [r, I] with 1 <= r <= rows (the running batch of packed sequences shrinks from step to
/// step; scan's batch_sizes); each call records its step into its rows of the shared node
/// (record_into), after that node, so the reverse sweep reaches the shared node after every step —
/// by construction, whatever else is recorded in between. Fewer calls than `steps` are fine (the
/// weight's gradient covers the rows written); one more throws ValueError. Recording, checks and
/// memory are the tape's (no heap). When no gradient can reach W or b (recording off, or neither
/// requires one) each call is a node of its own, still on the packed weight. It needs the whole
/// sweep on the tape it was made on: checkpointed_scan, which records segments again in backward on
/// another tape, uses `linear`. The object may be discarded after the loop; the recording keeps
/// what backward needs. Tangents (Tape::jvp): the shared node adds X dW^T + db for every row
/// written, each step its dx W^T.
template <class T>
class RecurrentLinear {
 public:
  /// Throws ShapeError unless weight is [O, I] and bias (when not empty) is [O], and
  /// ValueError unless rows and steps are positive.
  RecurrentLinear(const Var<T>& weight, const Var<T>& bias, std::int64_t rows, std::int64_t steps);

  /// The same product added in place to rows of `base`: each call y = a + x W^T + b for `a`
  /// a window of base's rows (below), whose memory then holds y. Base is [N, O] or any shape
  /// whose last dimension is O, with N rows in all. The fused LSTM and RNN layers pass their
  /// input projection xw = x W_ih^T + b_ih for all steps: the gates xw_t + h W_hh^T are then
  /// one buffer with one gradient, which the cell's backward writes once and both weights'
  /// GEMMs read (instead of a second [N, O] node with its own gradient).
  ///
  /// Throws as the other constructor does for the weight, bias and rows, and ShapeError unless
  /// base's last dimension is O. Base's value is overwritten, so the contract, checked: base is
  /// the output of `linear` or `matmul` (whose derivatives do not read their own value;
  /// ValueError otherwise), and nothing but these calls reads its value afterwards. Its
  /// gradient (and tangent) is that of every y.
  /// Calls fill base's rows one after another, forwards or backwards (a reverse scan), each
  /// next to the rows already written (ValueError otherwise); no `steps` limit.
  RecurrentLinear(const Var<T>& weight, const Var<T>& bias, std::int64_t rows, const Var<T>& base);

  /// x [r, I] -> x W^T + b [r, O], 1 <= r <= rows. Throws ShapeError for another shape and
  /// ValueError after `steps` calls, or when made on a base (the addend is missing).
  Var<T> operator()(const Var<T>& x);

  /// With a base: x [r, I] -> addend + x W^T + b, addend [r, O] a window of whole rows of base
  /// (a select or narrow of it). Throws ShapeError for other shapes, ValueError when addend is
  /// not such a window, is not next to the rows written so far, or the object has no base.
  Var<T> operator()(const Var<T>& x, const Var<T>& addend);

  /// Calls made so far.
  std::int64_t calls() const { return calls_; }

 private:
  void init(std::int64_t total_rows);
  std::int64_t row_of(const Var<T>& x, const Var<T>& addend) const;
  Var<T> record_step(const Var<T>& x, std::int64_t first, std::int64_t r, const T* copy_from);

  Var<T> weight_, bias_;
  Var<T> base_;                    // empty unless made on a base
  Var<T> outputs_;                 // [N, O]: every step's output, and gradient (base's, with one)
  T* inputs_ = nullptr;            // [N, I]: a copy of every step's x, row for row
  std::int64_t* range_ = nullptr;  // [first, end) of the rows written, in the arena: the shared
                                   // node's backward rule reads it
  std::int64_t rows_, steps_, in_, out_;
  std::int64_t calls_ = 0;
  bool batched_ = false;
  detail::PackedRecurrentWeight<T> packed_;
};

}  // namespace tapeloop
