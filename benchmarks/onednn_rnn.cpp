// oneDNN's RNN, LSTM and GRU primitives on the benchmark configurations, as the peer of
// recurrent_bench: checked against tapeloop's layer on the same weights and data, then timed.
//
// Usage: onednn_rnn --mode lstm|gru|rnn --task train|inference --threads N --repeats R
//                   [--lengths full] [--build-info] CONFIG...
// Prints one JSON object per configuration, with recurrent_bench's keys ("cell": "onednn");
// --build-info first prints {"onednn", "cpu_runtime", "cpu_isa"}. The check's errors go to
// stderr. Not supported, because oneDNN has no such thing: --task optimizer (no optimizers) and
// --lengths uniform (its RNN primitives take no per-sequence lengths).
//
// Before any timing, each configuration is checked: the layer recurrent_bench builds from
// Generator(0) runs one training step in tapeloop and in oneDNN (forward_training, then backward
// with diff_dst = dMSE/dy = 2 (y - target) / numel), and the output, diff_src_layer,
// diff_weights_layer, diff_weights_iter and diff_bias must agree to max|a - b| / max|b| < 1e-3
// (b: tapeloop's). With --task inference the forward_inference output is checked as well. A
// disagreement names the tensor and its error and exits with 1.
//
// The mapping onto oneDNN (its docs, "RNN" developer guide):
// - weights [1,1,I,G,H] and [1,1,H,G,H] in ldigo: oneDNN's W[i][g][o] is PyTorch's
//   weight_ih[g*H + o][i] (transposed per gate);
// - LSTM (vanilla_lstm): gates i, f, c~, o, PyTorch's order; bias = b_ih + b_hh;
// - RNN (vanilla_rnn, eltwise_tanh): bias = b_ih + b_hh;
// - GRU: lbr_gru (linear before reset), which applies r to (W_hn h + b_hn) as PyTorch's GRU
//   does. oneDNN's gates u, r, o are PyTorch's z, r, n (h' = u h + (1 - u) o = z h + (1 - z) n),
//   and its bias has 4 gates, u, r, o, u' = b_iz + b_hz, b_ir + b_hr, b_in, b_hn.
//
// A timed training step is what a training loop would run with these primitives: zeroing the
// weight gradients (oneDNN adds into them), reordering the weights into the layouts the forward
// and backward primitives chose (weights change every step in training), forward_training,
// the MSE gradient, backward. Memory (scratchpads included) and primitives are made once and
// reused. Inference packs the weights once.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <dnnl.hpp>

#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
#ifndef _OPENMP
#error "this oneDNN runs on OpenMP: build onednn_rnn with OpenMP to set its thread count"
#endif
#include <omp.h>
#elif DNNL_CPU_RUNTIME == DNNL_RUNTIME_TBB
#include <optional>

#include <oneapi/tbb/global_control.h>
#endif

#include "recurrent_common.hpp"
#include "tapeloop/tapeloop.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using namespace tapeloop::bench;
using models::RecurrentLayer;
using models::RecurrentMode;

namespace {

constexpr const char* usage =
    "usage: onednn_rnn --mode lstm|gru|rnn --task train|inference --threads N --repeats R\n"
    "                  [--lengths full] [--build-info] S|M|L...\n";

/// oneDNN's results differ from tapeloop's: main prints the message and exits with 1.
class CheckError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr double check_limit = 1e-3;

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

float* data_of(const memory& m) {
  return static_cast<float*>(m.get_data_handle());
}

/// The number of PyTorch gates (G) and of oneDNN bias gates (4 for lbr_gru's extra u').
int gates(RecurrentMode mode) {
  return mode == RecurrentMode::lstm ? 4 : mode == RecurrentMode::gru ? 3 : 1;
}
int bias_gates(RecurrentMode mode) {
  return mode == RecurrentMode::gru ? 4 : gates(mode);
}

/// PyTorch's gate (row block of weight_ih, weight_hh) that oneDNN's gate `g` is: the same for
/// LSTM (i, f, g, o) and RNN; for GRU oneDNN's u, r, o are PyTorch's z, r, n.
int torch_gate(RecurrentMode mode, int g) {
  if (mode != RecurrentMode::gru) return g;
  return g == 0 ? 1 : g == 1 ? 0 : 2;
}

/// A PyTorch weight [G*H, in] in oneDNN's ldigo order [in][G][H] (L = D = 1).
void to_ldigo(RecurrentMode mode, const float* w, std::int64_t in, std::int64_t hidden,
              float* out) {
  const int g_count = gates(mode);
  for (std::int64_t i = 0; i < in; ++i) {
    for (int g = 0; g < g_count; ++g) {
      const float* row = w + torch_gate(mode, g) * hidden * in;
      float* dst = out + (i * g_count + g) * hidden;
      for (std::int64_t o = 0; o < hidden; ++o) dst[o] = row[o * in + i];
    }
  }
}

/// oneDNN's bias [G'][H] (ldgo) from PyTorch's b_ih and b_hh: their sum per gate; for lbr_gru
/// the n gate keeps b_in, and b_hn goes to the fourth gate u'. Applied to the gradients of
/// b_ih and b_hh, `sum` = false gives what oneDNN's diff_bias must be: the gradient of a sum
/// is the gradient of either term, so b_ih's stands for the summed gates.
void to_ldgo(RecurrentMode mode, const float* b_ih, const float* b_hh, std::int64_t hidden,
             bool sum, float* out) {
  const int g_count = gates(mode);
  for (int g = 0; g < g_count; ++g) {
    const std::int64_t from = torch_gate(mode, g) * hidden;
    const bool summed = sum && !(mode == RecurrentMode::gru && g == 2);
    for (std::int64_t o = 0; o < hidden; ++o) {
      out[g * hidden + o] = b_ih[from + o] + (summed ? b_hh[from + o] : 0.0f);
    }
  }
  if (mode == RecurrentMode::gru) std::copy_n(b_hh + 2 * hidden, hidden, out + 3 * hidden);
}

/// A reorder made once and run per step.
struct Copy {
  dnnl::reorder reorder;
  memory from, to;
  void run(dnnl::stream& s) { reorder.execute(s, from, to); }
};

/// One layer's oneDNN primitives and memory, for inference or for training steps.
class OnednnLayer {
 public:
  OnednnLayer(RecurrentMode mode, const Config& c, bool training, const dnnl::engine& engine)
      : mode_(mode), config_(c), training_(training) {
    const std::int64_t T = c.steps, N = c.batch, I = c.input, H = c.hidden;
    const std::int64_t G = gates(mode), Gb = bias_gates(mode);
    const memory::desc none;  // a zero desc: no final state (not computed)
    // The initial state h0 (and c0), zeros, given as memory: left out (a zero desc, documented
    // to mean zeros), Debian's oneDNN 2.6 returned a wrong diff_weights_iter on an AVX2 machine
    // (error 0.43 on LSTM S, everything else agreeing). diff_src_iter must then be computed
    // too (one small GEMM).
    const memory::desc state_md({1, 1, N, H}, f32, Tag::ldnc);
    const bool lstm = mode == RecurrentMode::lstm;
    const memory::desc cell_md = lstm ? state_md : none;
    const memory::desc src_md({T, N, I}, f32, Tag::tnc), dst_md({T, N, H}, f32, Tag::tnc);
    const memory::desc layer_user({1, 1, I, G, H}, f32, Tag::ldigo);
    const memory::desc iter_user({1, 1, H, G, H}, f32, Tag::ldigo);
    // The primitives choose the weights' layouts (packed for the forward GEMMs).
    const memory::desc layer_any({1, 1, I, G, H}, f32, Tag::any);
    const memory::desc iter_any({1, 1, H, G, H}, f32, Tag::any);
    const memory::desc bias_md({1, 1, Gb, H}, f32, Tag::ldgo);
    const auto prop =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto back = dnnl::prop_kind::backward;
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    dnnl::rnn_primitive_desc_base fwd_pd, bwd_pd;
    // The scratchpads too are made once (below) rather than by the library at each execution.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // The gradients are asked for in the user's layouts: they are what the check compares
    // and what an optimizer would apply.
    switch (mode) {
      case RecurrentMode::lstm: {
        const dnnl::lstm_forward::primitive_desc pd(
            {prop, dir, src_md, state_md, cell_md, layer_any, iter_any, bias_md, dst_md, none,
             none},
            attr, engine);
        fwd_pd = pd;
        if (training) {
          bwd_pd = dnnl::lstm_backward::primitive_desc(
              {back,       dir,       src_md,  state_md, cell_md, layer_any, iter_any,
               bias_md,    dst_md,    none,    none,     src_md,  state_md,  cell_md,
               layer_user, iter_user, bias_md, dst_md,   none,    none},
              attr, engine, pd);
        }
        break;
      }
      case RecurrentMode::gru: {
        const dnnl::lbr_gru_forward::primitive_desc pd(
            {prop, dir, src_md, state_md, layer_any, iter_any, bias_md, dst_md, none}, attr,
            engine);
        fwd_pd = pd;
        if (training) {
          bwd_pd = dnnl::lbr_gru_backward::primitive_desc(
              {back, dir, src_md, state_md, layer_any, iter_any, bias_md, dst_md, none, src_md,
               state_md, layer_user, iter_user, bias_md, dst_md, none},
              attr, engine, pd);
        }
        break;
      }
      default: {
        const auto tanh = dnnl::algorithm::eltwise_tanh;
        const dnnl::vanilla_rnn_forward::primitive_desc pd(
            {prop, tanh, dir, src_md, state_md, layer_any, iter_any, bias_md, dst_md, none}, attr,
            engine);
        fwd_pd = pd;
        if (training) {
          bwd_pd = dnnl::vanilla_rnn_backward::primitive_desc(
              {back, tanh, dir, src_md, state_md, layer_any, iter_any, bias_md, dst_md, none,
               src_md, state_md, layer_user, iter_user, bias_md, dst_md, none},
              attr, engine, pd);
        }
        break;
      }
    }
    src_ = memory(src_md, engine);
    dst_ = memory(dst_md, engine);
    bias_ = memory(bias_md, engine);
    weights_layer_ = memory(layer_user, engine);
    weights_iter_ = memory(iter_user, engine);
    zero_state_ = memory(state_md, engine);  // read only: h0 and c0 alike
    std::memset(zero_state_.get_data_handle(), 0, state_md.get_size());
    fwd_ = dnnl::primitive(fwd_pd);
    fwd_scratchpad_ = memory(fwd_pd.scratchpad_desc(), engine);
    fwd_args_ = {{DNNL_ARG_SRC_LAYER, src_},
                 {DNNL_ARG_WEIGHTS_LAYER,
                  in_layout(weights_layer_, fwd_pd.weights_layer_desc(), engine, to_fwd_)},
                 {DNNL_ARG_WEIGHTS_ITER,
                  in_layout(weights_iter_, fwd_pd.weights_iter_desc(), engine, to_fwd_)},
                 {DNNL_ARG_BIAS, bias_},
                 {DNNL_ARG_SRC_ITER, zero_state_},
                 {DNNL_ARG_DST_LAYER, dst_},
                 {DNNL_ARG_SCRATCHPAD, fwd_scratchpad_}};
    if (lstm) fwd_args_.insert({DNNL_ARG_SRC_ITER_C, zero_state_});
    if (!training) return;
    workspace_ = memory(fwd_pd.workspace_desc(), engine);
    fwd_args_.insert({DNNL_ARG_WORKSPACE, workspace_});
    diff_src_ = memory(src_md, engine);
    diff_dst_ = memory(dst_md, engine);
    diff_weights_layer_ = memory(layer_user, engine);
    diff_weights_iter_ = memory(iter_user, engine);
    diff_bias_ = memory(bias_md, engine);
    diff_state_ = memory(state_md, engine);
    if (lstm) diff_cell_ = memory(state_md, engine);
    bwd_ = dnnl::primitive(bwd_pd);
    bwd_scratchpad_ = memory(bwd_pd.scratchpad_desc(), engine);
    bwd_args_ = {{DNNL_ARG_SRC_LAYER, src_},
                 {DNNL_ARG_WEIGHTS_LAYER,
                  in_layout(weights_layer_, bwd_pd.weights_layer_desc(), engine, to_bwd_)},
                 {DNNL_ARG_WEIGHTS_ITER,
                  in_layout(weights_iter_, bwd_pd.weights_iter_desc(), engine, to_bwd_)},
                 {DNNL_ARG_BIAS, bias_},
                 {DNNL_ARG_DST_LAYER, dst_},
                 {DNNL_ARG_WORKSPACE, workspace_},
                 {DNNL_ARG_DIFF_SRC_LAYER, diff_src_},
                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_weights_layer_},
                 {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_weights_iter_},
                 {DNNL_ARG_DIFF_BIAS, diff_bias_},
                 {DNNL_ARG_DIFF_DST_LAYER, diff_dst_},
                 {DNNL_ARG_SRC_ITER, zero_state_},
                 {DNNL_ARG_DIFF_SRC_ITER, diff_state_},
                 {DNNL_ARG_SCRATCHPAD, bwd_scratchpad_}};
    if (lstm) {
      bwd_args_.insert({DNNL_ARG_SRC_ITER_C, zero_state_});
      bwd_args_.insert({DNNL_ARG_DIFF_SRC_ITER_C, diff_cell_});
    }
  }

  /// Copies the weights of tapeloop's `layer` and the input `x` [T,B,I] in. Inference packs the
  /// weights here, once.
  void load(RecurrentLayer<float>& layer, const Tensor<float>& x, dnnl::stream& s) {
    const std::int64_t I = config_.input, H = config_.hidden;
    to_ldigo(mode_, layer.weight_ih(0).value().data(), I, H, data_of(weights_layer_));
    to_ldigo(mode_, layer.weight_hh(0).value().data(), H, H, data_of(weights_iter_));
    to_ldgo(mode_, layer.bias_ih(0).value().data(), layer.bias_hh(0).value().data(), H,
            /*sum=*/true, data_of(bias_));
    std::copy_n(x.data(), x.numel(), data_of(src_));  // [T,B,I] is tnc
    if (!training_) {
      for (Copy& c : to_fwd_) c.run(s);
      s.wait();
    }
  }

  /// forward_inference, or a whole training step (see the file's comment) towards `target`.
  void step(dnnl::stream& s, const float* target) {
    if (!training_) {
      fwd_.execute(s, fwd_args_);
      s.wait();
      return;
    }
    for (const memory* m : {&diff_weights_layer_, &diff_weights_iter_, &diff_bias_}) {
      std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    }
    for (Copy& c : to_fwd_) c.run(s);
    fwd_.execute(s, fwd_args_);
    s.wait();
    // dMSE/dy for the mean over all T*B*H outputs.
    const std::int64_t n = config_.steps * config_.batch * config_.hidden;
    const float scale = 2.0f / static_cast<float>(n);
    const float* y = data_of(dst_);
    float* dy = data_of(diff_dst_);
    for (std::int64_t i = 0; i < n; ++i) dy[i] = scale * (y[i] - target[i]);
    for (Copy& c : to_bwd_) c.run(s);
    bwd_.execute(s, bwd_args_);
    s.wait();
  }

  const float* output() const { return data_of(dst_); }
  const float* diff_src_layer() const { return data_of(diff_src_); }
  const float* diff_weights_layer() const { return data_of(diff_weights_layer_); }
  const float* diff_weights_iter() const { return data_of(diff_weights_iter_); }
  const float* diff_bias() const { return data_of(diff_bias_); }

 private:
  /// `user` in the layout `wanted` a primitive chose: the same memory when the layouts agree,
  /// else a new one plus the reorder (in `copies`) that fills it.
  static memory in_layout(const memory& user, const memory::desc& wanted,
                          const dnnl::engine& engine, std::vector<Copy>& copies) {
    if (wanted == user.get_desc()) return user;
    memory m(wanted, engine);
    copies.push_back(Copy{dnnl::reorder(user, m), user, m});
    return m;
  }

  RecurrentMode mode_;
  Config config_;
  bool training_;
  memory src_, dst_, bias_, weights_layer_, weights_iter_, zero_state_, workspace_;
  memory diff_src_, diff_dst_, diff_weights_layer_, diff_weights_iter_, diff_bias_;
  memory diff_state_, diff_cell_;  // d loss / d h0, c0: computed, unused
  memory fwd_scratchpad_, bwd_scratchpad_;
  dnnl::primitive fwd_, bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
  std::vector<Copy> to_fwd_, to_bwd_;
};

/// max|a - b| / (max|b| + tiny), infinite when a holds a NaN or an infinity.
double relative_error(const float* a, const float* b, std::int64_t n) {
  double diff = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    if (!std::isfinite(d)) return INFINITY;
    diff = std::max(diff, d);
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / (scale + 1e-30);
}

/// Collects the errors of one check and reports them on stderr.
class Comparison {
 public:
  explicit Comparison(std::string what) : what_(std::move(what)) {}
  void add(const char* tensor, const char* reference, const float* onednn, const float* tapeloop,
           std::int64_t n) {
    const double e = relative_error(onednn, tapeloop, n);
    char line[160];
    std::snprintf(line, sizeof line, "%s %.2e", tensor, e);
    report_ += (report_.empty() ? "" : ", ") + std::string(line);
    if (!(e < check_limit) && failure_.empty()) {
      std::snprintf(line, sizeof line, "%s differs from tapeloop's %s: error %.3e (limit %.0e)",
                    tensor, reference, e, check_limit);
      failure_ = line;
    }
  }
  /// Prints the errors; throws CheckError naming the first tensor over the limit.
  void finish() const {
    std::fprintf(stderr, "onednn_rnn: check %s vs tapeloop: %s: %s\n", what_.c_str(),
                 report_.c_str(), failure_.empty() ? "ok" : "FAILED");
    if (!failure_.empty()) throw CheckError("check " + what_ + ": " + failure_);
  }

 private:
  std::string what_, report_, failure_;
};

/// Checks oneDNN's training step against tapeloop's on `p` (`training` loaded from it), and with
/// `inference` also the forward_inference output.
void check(const Options& o, const Config& c, Problem& p, OnednnLayer& training,
           OnednnLayer* inference, dnnl::stream& s) {
  Tape<float> tape;
  p.layer.zero_grad();
  const Var<float> xs = tape.input(p.x.ref(), /*requires_grad=*/true);
  const Var<float> out = p.layer.forward(tape, xs).output;
  tape.backward(mse_loss(out, tape.constant(p.target.ref())));

  training.step(s, p.target.data());
  const std::int64_t I = c.input, H = c.hidden, G = gates(o.mode), Gb = bias_gates(o.mode);
  std::vector<float> layer_grad(static_cast<std::size_t>(I * G * H));
  std::vector<float> iter_grad(static_cast<std::size_t>(H * G * H));
  std::vector<float> bias_grad(static_cast<std::size_t>(Gb * H));
  to_ldigo(o.mode, p.layer.weight_ih(0).grad().data(), I, H, layer_grad.data());
  to_ldigo(o.mode, p.layer.weight_hh(0).grad().data(), H, H, iter_grad.data());
  to_ldgo(o.mode, p.layer.bias_ih(0).grad().data(), p.layer.bias_hh(0).grad().data(), H,
          /*sum=*/false, bias_grad.data());

  Comparison cmp(std::string(mode_name(o.mode)) + " " + c.name);
  cmp.add("output", "output", training.output(), out.value().data, out.value().numel());
  cmp.add("diff_src_layer", "input gradient", training.diff_src_layer(), xs.grad().data,
          p.x.numel());
  cmp.add("diff_weights_layer", "weight_ih_l0 gradient", training.diff_weights_layer(),
          layer_grad.data(), I * G * H);
  cmp.add("diff_weights_iter", "weight_hh_l0 gradient", training.diff_weights_iter(),
          iter_grad.data(), H * G * H);
  cmp.add("diff_bias", "bias gradients", training.diff_bias(), bias_grad.data(), Gb * H);
  if (inference) {
    inference->step(s, nullptr);
    cmp.add("inference output", "output", inference->output(), out.value().data,
            out.value().numel());
  }
  cmp.finish();
}

const char* runtime_name(unsigned runtime) {
  switch (runtime) {
    case DNNL_RUNTIME_SEQ:
      return "sequential";
    case DNNL_RUNTIME_OMP:
      return "OpenMP";
    case DNNL_RUNTIME_TBB:
      return "TBB";
    case DNNL_RUNTIME_THREADPOOL:
      return "threadpool";
    default:
      return "other";
  }
}

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

/// Sets the threads oneDNN's primitives run on (OpenMP: until set again; TBB: while it lives).
///
/// Debian's libdnnl 2.6 is built with DNNL_CPU_RUNTIME = OMP and links libgomp (ldd
/// libdnnl.so.2; dnnl_version()->cpu_runtime says OpenMP): its primitives run on this process's
/// OpenMP pool, so omp_set_num_threads sets their count (this program is built with -fopenmp
/// and shares that libgomp). A oneDNN built on TBB runs in TBB's default arena, which a
/// tbb::global_control caps. The header's runtime must be the library's.
struct ThreadSetting {
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_TBB
  std::optional<tbb::global_control> control;
#endif
  explicit ThreadSetting(int threads) {
    const unsigned runtime = dnnl_version()->cpu_runtime;
    if (runtime != DNNL_CPU_RUNTIME) {
      throw std::runtime_error(std::string("libdnnl runs on ") + runtime_name(runtime) +
                               " but dnnl_config.h says " + runtime_name(DNNL_CPU_RUNTIME));
    }
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
    omp_set_num_threads(threads);
#elif DNNL_CPU_RUNTIME == DNNL_RUNTIME_TBB
    control.emplace(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(threads));
#else
    if (threads != 1) {
      throw std::runtime_error(std::string("cannot set the threads of a oneDNN on the ") +
                               runtime_name(runtime) + " runtime");
    }
#endif
  }
};

void measure(const Options& o, const Config& c, dnnl::engine& engine, dnnl::stream& s) {
  set_num_threads(o.threads);  // tapeloop's, for the check
  const ThreadSetting threads(o.threads);
  Problem p = make_problem(o.mode, c, /*fused=*/true);
  const bool train = o.task == Task::train;
  {
    // The check runs on layers of its own, gone before the timed one is made: its buffers
    // (workspace, scratchpads, gradients) then count in the peak memory, as the others' do.
    OnednnLayer checked(o.mode, c, train, engine);
    checked.load(p.layer, p.x, s);
    if (train) {
      check(o, c, p, checked, nullptr, s);
    } else {
      OnednnLayer training(o.mode, c, true, engine);
      training.load(p.layer, p.x, s);
      check(o, c, p, training, &checked, s);
    }
  }
  const double baseline = resident_mib("VmRSS");
  OnednnLayer timed(o.mode, c, train, engine);
  timed.load(p.layer, p.x, s);
  const Timing times = time_steps(
      o.repeats, [&] { timed.step(s, p.target.data()); }, baseline);
  print_result(o, "onednn", c, times);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(argc, argv, /*with_cell=*/false, /*with_dump=*/false);
    if (o.task == Task::optimizer) throw UsageError("--task optimizer: oneDNN has no optimizers");
    if (o.uniform_lengths) {
      throw UsageError("--lengths uniform: oneDNN's RNN primitives take no sequence lengths");
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "onednn_rnn: %s\n%s", e.what(), usage);
    return 2;
  }
  try {
    if (o.build_info) {
      const dnnl_version_t* v = dnnl_version();
      std::printf("{\"onednn\": \"%d.%d.%d\", \"cpu_runtime\": \"%s\", \"cpu_isa\": \"%s\"}\n",
                  v->major, v->minor, v->patch, runtime_name(v->cpu_runtime),
                  isa_name(dnnl::get_effective_cpu_isa()));
    }
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream s(engine);
    for (const Config* c : o.chosen) measure(o, *c, engine, s);
  } catch (const CheckError& e) {
    std::fprintf(stderr, "onednn_rnn: %s\n", e.what());
    return 1;
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn_rnn: oneDNN: %s (status %d)\n", e.what(),
                 static_cast<int>(e.status));
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onednn_rnn: %s\n", e.what());
    return 1;
  }
}
