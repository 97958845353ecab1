// Second-order products: Tape::hvp and Tape::gnvp against finite differences of the gradient
// (every rule with a second-order term), closed forms, explicitly assembled Jacobians and loss
// Hessians, and PyTorch's torch.autograd.functional.hvp on a small RNN (golden file).
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "support/golden.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

double dot(TensorRef<const double> a, TensorRef<const double> b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += a.data[i] * b.data[i];
  return s;
}

struct Case {
  std::string name;
  GradcheckFunction f;
  std::vector<Tensor<double>> inputs;
};

const std::vector<std::int64_t> class_targets{2, 0, 1, 2};

std::vector<Case> second_order_cases() {
  using V = Var<double>;
  using Vs = std::vector<V>;
  auto x34 = [](std::uint64_t seed) { return random_tensor({3, 4}, seed); };
  auto positive = [](std::uint64_t seed) { return random_tensor({3, 4}, seed, 0.5, 2.0); };
  std::vector<Case> cases;
  auto add = [&](std::string name, GradcheckFunction f, std::vector<Tensor<double>> in) {
    cases.push_back({std::move(name), std::move(f), std::move(in)});
  };
  add("exp", [](Tape<double>&, const Vs& v) { return exp(v[0]); }, {x34(1)});
  add("log", [](Tape<double>&, const Vs& v) { return log(v[0]); }, {positive(2)});
  add("sqrt", [](Tape<double>&, const Vs& v) { return sqrt(v[0]); }, {positive(3)});
  add("tanh", [](Tape<double>&, const Vs& v) { return tanh(v[0]); }, {x34(4)});
  add("sigmoid", [](Tape<double>&, const Vs& v) { return sigmoid(v[0]); }, {x34(5)});
  add("rdiv_scalar", [](Tape<double>&, const Vs& v) { return rdiv_scalar(1.5, v[0]); },
      {positive(6)});
  add("linear unaries",
      [](Tape<double>&, const Vs& v) {
        return clamp(relu(neg(v[0]) * 2.0 + 0.1) - abs(v[0]) / 3.0, -0.5, 0.5) * v[0];
      },
      {x34(7)});
  add("log1p", [](Tape<double>&, const Vs& v) { return log1p(v[0]); }, {positive(8)});
  add("expm1", [](Tape<double>&, const Vs& v) { return expm1(v[0]); }, {x34(9)});
  add("sin", [](Tape<double>&, const Vs& v) { return sin(v[0]); }, {x34(10)});
  add("cos", [](Tape<double>&, const Vs& v) { return cos(v[0]); }, {x34(11)});
  add("pow", [](Tape<double>&, const Vs& v) { return pow(v[0], 2.5); }, {positive(12)});
  add("mul", [](Tape<double>&, const Vs& v) { return v[0] * v[1]; }, {x34(13), x34(14)});
  add("div", [](Tape<double>&, const Vs& v) { return v[0] / v[1]; }, {x34(15), positive(16)});
  add("mul broadcast", [](Tape<double>&, const Vs& v) { return v[0] * v[1]; },
      {x34(17), random_tensor({4}, 18)});
  add("div broadcast", [](Tape<double>&, const Vs& v) { return v[0] / v[1]; },
      {random_tensor({3, 1}, 19), random_tensor({2, 1, 4}, 20, 0.5, 2.0)});
  add("add sub broadcast", [](Tape<double>&, const Vs& v) { return (v[0] + v[1]) * (v[0] - v[1]); },
      {x34(21), random_tensor({4}, 22)});
  add("linear", [](Tape<double>&, const Vs& v) { return tanh(linear(v[0], v[1], v[2])); },
      {random_tensor({2, 3, 4}, 23), random_tensor({5, 4}, 24), random_tensor({5}, 25)});
  add("linear without bias", [](Tape<double>&, const Vs& v) { return linear(v[0], v[1]); },
      {x34(26), random_tensor({2, 4}, 27)});
  add("matmul", [](Tape<double>&, const Vs& v) { return matmul(v[0], v[1]); },
      {x34(28), random_tensor({4, 2}, 29)});
  add("matmul batched", [](Tape<double>&, const Vs& v) { return matmul(v[0], v[1]); },
      {random_tensor({2, 3, 4}, 30), random_tensor({2, 4, 2}, 31)});
  add("matmul shared", [](Tape<double>&, const Vs& v) { return matmul(v[0], v[1]); },
      {random_tensor({2, 3, 4}, 32), random_tensor({4, 2}, 33)});
  add("softmax", [](Tape<double>&, const Vs& v) { return softmax(v[0]); }, {x34(34)});
  add("softmax axis 0", [](Tape<double>&, const Vs& v) { return softmax(v[0], 0); }, {x34(35)});
  add("log_softmax", [](Tape<double>&, const Vs& v) { return log_softmax(v[0]); }, {x34(36)});
  add("log_softmax axis 1 of 3", [](Tape<double>&, const Vs& v) { return log_softmax(v[0], 1); },
      {random_tensor({2, 3, 2}, 37)});
  add("logsumexp", [](Tape<double>&, const Vs& v) { return logsumexp(v[0], 1); }, {x34(38)});
  add("logsumexp axis 0", [](Tape<double>&, const Vs& v) { return logsumexp(v[0], 0, true); },
      {x34(39)});
  add("sums, extrema and shapes",
      [](Tape<double>&, const Vs& v) {
        const V s = concat({sum(v[0], 1, true), mean(v[0], 1, true), max(v[0], 1, true)}, 1);
        const V p = permute(narrow(s, 1, 1, 2), {1, 0});
        return stack({p, p * p}, 0);
      },
      {x34(40)});
  add("index_select and gather",
      [](Tape<double>&, const Vs& v) {
        const V a = index_select(v[0], 1, {3, 0, 3});
        return a * a;
      },
      {x34(41)});
  add("where",
      [](Tape<double>& tape, const Vs& v) {
        const Tensor<double> cond = Tensor<double>::from({4}, {1, 0, 0, 1});
        return where(tape.constant(cond.ref()), v[0] * v[0], exp(v[0]));
      },
      {x34(42)});
  add("cross_entropy",
      [](Tape<double>&, const Vs& v) {
        return cross_entropy(v[0], std::span<const std::int64_t>(class_targets));
      },
      {random_tensor({4, 3}, 43, -2.0, 2.0)});
  add("cross_entropy weighted smoothed ignoring",
      [](Tape<double>&, const Vs& v) {
        static const std::vector<std::int64_t> targets{2, -100, 1, 0};
        static const std::vector<double> weight{0.5, 2.0, 1.0};
        CrossEntropyOptions<double> o;
        o.weight = weight;
        o.label_smoothing = 0.2;
        return cross_entropy(v[0], std::span<const std::int64_t>(targets), o);
      },
      {random_tensor({4, 3}, 44, -2.0, 2.0)});
  add("cross_entropy [N,C,S] summed",
      [](Tape<double>&, const Vs& v) {
        static const std::vector<std::int64_t> targets{2, 0, 1, 1};
        return cross_entropy(v[0], std::span<const std::int64_t>(targets), Reduction::sum);
      },
      {random_tensor({2, 3, 2}, 45, -2.0, 2.0)});
  add("nll_loss of log_softmax",
      [](Tape<double>&, const Vs& v) {
        return nll_loss(log_softmax(v[0]), std::span<const std::int64_t>(class_targets));
      },
      {random_tensor({4, 3}, 46, -2.0, 2.0)});
  add("mse_loss", [](Tape<double>&, const Vs& v) { return mse_loss(v[0], v[1]); },
      {x34(47), x34(48)});
  add("mse_loss of a product",
      [](Tape<double>&, const Vs& v) { return mse_loss(v[0] * v[1], v[1], Reduction::sum); },
      {x34(49), x34(50)});
  add("binary_cross_entropy_with_logits",
      [](Tape<double>&, const Vs& v) {
        return binary_cross_entropy_with_logits(v[0], sigmoid(v[1]));
      },
      {random_tensor({3, 4}, 51, -3.0, 3.0), x34(52)});
  return cases;
}

// h_t = tanh(x_t wx + h_{t-1} wh + b) from generic operators.
StepResult<double> tanh_step(std::span<const Var<double>> w, const State<double>& s,
                             const Var<double>& x) {
  const Var<double> h = tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
  return {State<double>{h}, h};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_hvp)

// gradcheck compares Tape::hvp of <w, f> along a random direction with central differences of
// the gradient; here every case must actually reach that comparison.
BOOST_AUTO_TEST_CASE(every_second_order_rule_matches_finite_differences_of_the_gradient) {
  for (const Case& c : second_order_cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      const GradcheckResult r = gradcheck(c.f, c.inputs);
      BOOST_TEST(r.passed, r.message);
      BOOST_TEST(r.curvature_checked, r.no_curvature);
    }
  }
}

BOOST_AUTO_TEST_CASE(hvp_through_scan_matches_finite_differences) {
  for (int segment : {0, 1, 2, 4}) {
    BOOST_TEST_CONTEXT("checkpoint segment " << segment) {
      auto f = [segment](Tape<double>& tape, const std::vector<Var<double>>& v) {
        const Var<double> w[] = {v[1], v[2], v[3]};
        static const std::int64_t lengths[] = {5, 3};
        ScanOptions options;
        options.lengths = lengths;
        const State<double> h0{tanh(v[4])};
        ScanResult<double> r =
            segment > 0 ? checkpointed_scan(tape, tanh_step, v[0], h0, w, segment, options)
                        : scan(tape, tanh_step, v[0], h0, w, options);
        return mse_loss(r.outputs, tape.zeros(r.outputs.shape()), Reduction::sum) +
               sum(r.state[0] * r.state[0] * r.state[0]);
      };
      const GradcheckResult r = gradcheck(
          f, {random_tensor({5, 2, 2}, 60), random_tensor({2, 3}, 61), random_tensor({3, 3}, 62),
              random_tensor({3}, 63), random_tensor({2, 3}, 64)});
      BOOST_TEST(r.passed, r.message);
      BOOST_TEST(r.curvature_checked, r.no_curvature);
    }
  }
}

// Logistic regression, L = mean bce(X w + c, y): H = [X 1]^T diag(s (1 - s)) [X 1] / N, a closed
// form. The model is linear in (w, c), so the Gauss-Newton matrix is H as well.
BOOST_AUTO_TEST_CASE(logistic_regression_hessian_is_the_closed_form) {
  const std::int64_t n = 6, d = 3;
  const Tensor<double> X = random_tensor({n, d}, 70, -2.0, 2.0);
  const Tensor<double> y = random_tensor({n}, 71, 0.0, 1.0);
  const Tensor<double> w = random_tensor({d, 1}, 72), c = random_tensor({1}, 73);
  const Tensor<double> vw = random_tensor({d, 1}, 74), vc = random_tensor({1}, 75);
  Tape<double> tape;
  Var<double> W = tape.input(w.ref(), true), C = tape.input(c.ref(), true);
  Var<double> z = reshape(matmul(tape.constant(X.ref()), W), {n}) + C;
  Var<double> loss = binary_cross_entropy_with_logits(z, tape.constant(y.ref()));
  Tensor<double> hw({d, 1}), hc({1}), gw({d, 1}), gc({1});
  const Var<double> inputs[] = {W, C};
  const TensorRef<const double> v[] = {vw.ref(), vc.ref()};
  const TensorRef<double> hv[] = {hw.ref(), hc.ref()};
  const TensorRef<double> gv[] = {gw.ref(), gc.ref()};
  tape.hvp(loss, inputs, v, hv);
  tape.gnvp(loss, z, inputs, v, gv);
  std::vector<double> expected(d + 1, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double zi = c[0], xv = vc[0];
    for (std::int64_t j = 0; j < d; ++j) {
      zi += X[i * d + j] * w[j];
      xv += X[i * d + j] * vw[j];
    }
    const double s = 1 / (1 + std::exp(-zi));
    const double k = s * (1 - s) * xv / n;
    for (std::int64_t j = 0; j < d; ++j) expected[j] += X[i * d + j] * k;
    expected[d] += k;
  }
  for (std::int64_t j = 0; j <= d; ++j) {
    const double h = j < d ? hw[j] : hc[0];
    const double g = j < d ? gw[j] : gc[0];
    BOOST_TEST(h == expected[j], boost::test_tools::tolerance(1e-13));
    BOOST_TEST(g == expected[j], boost::test_tools::tolerance(1e-13));
  }
}

// G v = J^T H_L J v with J assembled column by column from unit tangents, and H_L written out
// for each loss by hand; with structural damping, plus weight J_s^T J_s v for the hidden layer.
BOOST_AUTO_TEST_CASE(gauss_newton_matches_the_assembled_jacobian_and_loss_hessian) {
  const std::int64_t n = 4, in = 3, hidden = 5, out = 3;
  const Tensor<double> X = random_tensor({n, in}, 80);
  const Tensor<double> t_real = random_tensor({n, out}, 81);
  const Tensor<double> t_prob = random_tensor({n, out}, 82, 0.0, 1.0);
  const std::vector<Tensor<double>> params{random_tensor({hidden, in}, 83),
                                           random_tensor({hidden}, 84),
                                           random_tensor({out, hidden}, 85)};
  std::int64_t p_total = 0;
  for (const Tensor<double>& p : params) p_total += p.numel();
  for (int loss_kind = 0; loss_kind < 3; ++loss_kind) {
    for (double damping : {0.0, 0.7}) {
      BOOST_TEST_CONTEXT("loss " << loss_kind << " damping " << damping) {
        Tape<double> tape;
        std::vector<Var<double>> leaves;
        for (const Tensor<double>& p : params) leaves.push_back(tape.input(p.ref(), true));
        const Var<double> h = tanh(linear(tape.constant(X.ref()), leaves[0], leaves[1]));
        const Var<double> z = linear(h, leaves[2]);
        const Var<double> loss =
            loss_kind == 0   ? cross_entropy(z, std::span<const std::int64_t>(class_targets))
            : loss_kind == 1 ? mse_loss(z, tape.constant(t_real.ref()))
                             : binary_cross_entropy_with_logits(z, tape.constant(t_prob.ref()));
        // J (z and h) column by column.
        std::vector<Tensor<double>> jz, jh;
        for (std::int64_t col = 0; col < p_total; ++col) {
          std::vector<Tensor<double>> e;
          std::vector<TensorRef<const double>> refs;
          std::int64_t at = col;
          for (const Tensor<double>& p : params) {
            e.push_back(Tensor<double>::zeros(p.shape()));
            if (at >= 0 && at < p.numel()) e.back()[at] = 1;
            at -= p.numel();
          }
          for (const Tensor<double>& d : e) refs.push_back(d.ref());
          tape.jvp(leaves, refs);
          jz.push_back(Tensor<double>::from(tape.tangent(z)));
          jh.push_back(Tensor<double>::from(tape.tangent(h)));
        }
        // H_L applied to a vector u of z's shape.
        const Tensor<double> zv = z.to_tensor();
        auto loss_hessian = [&](const std::vector<double>& u) {
          std::vector<double> r(u.size(), 0.0);
          for (std::int64_t i = 0; i < n; ++i) {
            const double* zi = zv.data() + i * out;
            if (loss_kind == 0) {
              double m = zi[0], s = 0, pu = 0;
              for (std::int64_t k = 1; k < out; ++k) m = std::max(m, zi[k]);
              for (std::int64_t k = 0; k < out; ++k) s += std::exp(zi[k] - m);
              for (std::int64_t k = 0; k < out; ++k) pu += std::exp(zi[k] - m) / s * u[i * out + k];
              for (std::int64_t k = 0; k < out; ++k) {
                r[i * out + k] = std::exp(zi[k] - m) / s * (u[i * out + k] - pu) / n;
              }
            } else {
              for (std::int64_t k = 0; k < out; ++k) {
                const double sg = 1 / (1 + std::exp(-zi[k]));
                r[i * out + k] = (loss_kind == 1 ? 2.0 : sg * (1 - sg)) * u[i * out + k] /
                                 static_cast<double>(n * out);
              }
            }
          }
          return r;
        };
        const std::vector<Tensor<double>> v{random_tensor(params[0].shape(), 90),
                                            random_tensor(params[1].shape(), 91),
                                            random_tensor(params[2].shape(), 92)};
        std::vector<double> flat_v;
        for (const Tensor<double>& d : v) flat_v.insert(flat_v.end(), d.begin(), d.end());
        std::vector<double> jv(static_cast<std::size_t>(n * out), 0.0),
            hv(static_cast<std::size_t>(n * hidden), 0.0);
        for (std::int64_t col = 0; col < p_total; ++col) {
          for (std::size_t k = 0; k < jv.size(); ++k) jv[k] += jz[col][k] * flat_v[col];
          for (std::size_t k = 0; k < hv.size(); ++k) hv[k] += jh[col][k] * flat_v[col];
        }
        const std::vector<double> u = loss_hessian(jv);
        std::vector<double> expected(static_cast<std::size_t>(p_total), 0.0);
        for (std::int64_t col = 0; col < p_total; ++col) {
          for (std::size_t k = 0; k < u.size(); ++k) expected[col] += jz[col][k] * u[k];
          for (std::size_t k = 0; k < hv.size(); ++k) {
            expected[col] += damping * jh[col][k] * hv[k];
          }
        }
        std::vector<Tensor<double>> gv;
        std::vector<TensorRef<const double>> directions;
        std::vector<TensorRef<double>> products;
        for (std::size_t i = 0; i < params.size(); ++i) {
          gv.push_back(Tensor<double>::zeros(params[i].shape()));
          directions.push_back(v[i].ref());
          products.push_back(gv.back().ref());
        }
        const Var<double> damped[] = {h};
        tape.gnvp(loss, z, leaves, directions, products, damped, damping);
        std::int64_t col = 0;
        for (const Tensor<double>& g : gv) {
          for (std::int64_t k = 0; k < g.numel(); ++k, ++col) {
            BOOST_TEST(g[k] == expected[col], boost::test_tools::tolerance(1e-12));
          }
        }
        // Positive semidefinite and symmetric: <v, G v> >= 0, <u, G v> = <G u, v>.
        double vgv = 0;
        for (std::size_t i = 0; i < params.size(); ++i) vgv += dot(v[i].ref(), gv[i].ref());
        BOOST_TEST(vgv >= 0.0);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(hvp_and_gnvp_of_an_rnn_match_pytorch) {
  const nlohmann::json g = testing::load_golden_json("hvp_golden.json");
  const auto& dims = g["dims"];
  const std::int64_t T = dims["T"], B = dims["B"], I = dims["I"], H = dims["H"], C = dims["C"];
  const std::vector<std::string> names{"wx", "wh", "b", "wy"};
  const std::vector<Shape> shapes{{I, H}, {H, H}, {H}, {H, C}};
  const Tensor<double> x = testing::golden_tensor<double>(g["x"], {T, B, I});
  const std::vector<std::int64_t> targets = testing::golden_ints(g["targets"]);
  Tape<double> tape;
  std::vector<Tensor<double>> params, v;
  std::vector<Var<double>> leaves;
  for (std::size_t i = 0; i < names.size(); ++i) {
    params.push_back(testing::golden_tensor<double>(g["params"][names[i]], shapes[i]));
    v.push_back(testing::golden_tensor<double>(g["v"][names[i]], shapes[i]));
  }
  for (const Tensor<double>& p : params) leaves.push_back(tape.input(p.ref(), true));
  const Var<double> w[] = {leaves[0], leaves[1], leaves[2]};
  ScanOptions options;
  options.collect_outputs = false;
  ScanResult<double> r =
      scan(tape, tanh_step, tape.constant(x.ref()), State<double>{tape.zeros({B, H})}, w, options);
  const Var<double> h = r.state[0];
  const Var<double> z = matmul(h, leaves[3]);
  const Var<double> loss =
      cross_entropy(z, std::span<const std::int64_t>(targets)) + mean(h * h) * 0.1;
  BOOST_TEST(loss.item() == g["loss"].get<double>(), boost::test_tools::tolerance(1e-13));
  tape.backward(loss);
  std::vector<Tensor<double>> hv, gv;
  std::vector<TensorRef<const double>> directions;
  std::vector<TensorRef<double>> hv_refs, gv_refs;
  for (std::size_t i = 0; i < names.size(); ++i) {
    hv.push_back(Tensor<double>::zeros(shapes[i]));
    gv.push_back(Tensor<double>::zeros(shapes[i]));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    directions.push_back(v[i].ref());
    hv_refs.push_back(hv[i].ref());
    gv_refs.push_back(gv[i].ref());
  }
  tape.hvp(loss, leaves, directions, hv_refs);
  // The cross-entropy part alone: its own recording of the same forward.
  const Var<double> ce = cross_entropy(z, std::span<const std::int64_t>(targets));
  tape.gnvp(ce, z, leaves, directions, gv_refs);
  for (std::size_t i = 0; i < names.size(); ++i) {
    BOOST_TEST_CONTEXT(names[i]) {
      testing::check_close("grad", leaves[i].grad().data, g["grad"][names[i]], 1e-12, 1e-13);
      testing::check_close("hvp", hv[i].data(), g["hvp"][names[i]], 1e-11, 1e-13);
      testing::check_close("gnvp", gv[i].data(), g["gnvp"][names[i]], 1e-11, 1e-13);
    }
  }
}

// The products leave backward()'s gradients as they were, parameters' included, and repeated
// products on one recording reuse their buffers instead of growing the arena.
BOOST_AUTO_TEST_CASE(products_keep_gradients_and_reuse_memory) {
  Parameter<double> W(random_tensor({4, 3}, 100), "W");
  const Tensor<double> x = random_tensor({5, 3}, 101), v = random_tensor({4, 3}, 102);
  Tape<double> tape;
  const Var<double> w = W.var(tape);
  const Var<double> z = linear(tape.constant(x.ref()), w);
  const Var<double> loss = mean(log_softmax(tanh(z)) * log_softmax(z));
  tape.backward(loss);
  const Tensor<double> grad = W.grad();
  Tensor<double> hv({4, 3}), again({4, 3});
  const Var<double> inputs[] = {w};
  const TensorRef<const double> directions[] = {v.ref()};
  const TensorRef<double> first[] = {hv.ref()};
  const TensorRef<double> second[] = {again.ref()};
  tape.hvp(loss, inputs, directions, first);
  const std::size_t used = tape.arena().bytes_in_use();
  for (int k = 0; k < 5; ++k) tape.hvp(loss, inputs, directions, second);
  // Rules' own scratch (log_softmax's row sums) is all that may still be taken.
  BOOST_TEST(tape.arena().bytes_in_use() - used <= std::size_t{5} * 1024);
  for (std::int64_t i = 0; i < hv.numel(); ++i) {
    BOOST_TEST(again[i] == hv[i]);
    BOOST_TEST(W.grad()[i] == grad[i]);
  }
  // Symmetry of H: <u, H v> = <H u, v>.
  const Tensor<double> u = random_tensor({4, 3}, 103);
  Tensor<double> hu({4, 3});
  const TensorRef<const double> along_u[] = {u.ref()};
  const TensorRef<double> into_hu[] = {hu.ref()};
  tape.hvp(loss, inputs, along_u, into_hu);
  BOOST_TEST(dot(u.ref(), hv.ref()) == dot(hu.ref(), v.ref()), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(float_products_agree_with_double) {
  const Tensor<double> xd = random_tensor({3, 4}, 110), wd = random_tensor({3, 4}, 111),
                       vd = random_tensor({3, 4}, 112);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const Tensor<T> x = testing::cast<T>(xd), w0 = testing::cast<T>(wd), v = testing::cast<T>(vd);
    Tape<T> tape;
    const Var<T> w = tape.input(w0.ref(), true);
    const Var<T> z = linear(tape.constant(x.ref()), w);
    const Var<T> loss = cross_entropy(z, std::span<const std::int64_t>(class_targets).first(3)) +
                        sum(sigmoid(z) * sigmoid(z));
    Tensor<T> hv({3, 4}), gv({3, 4});
    const Var<T> inputs[] = {w};
    const TensorRef<const T> directions[] = {v.ref()};
    const TensorRef<T> h[] = {hv.ref()};
    const TensorRef<T> g[] = {gv.ref()};
    tape.hvp(loss, inputs, directions, h);
    tape.gnvp(loss, z, inputs, directions, g);
    return std::pair{testing::cast<double>(hv), testing::cast<double>(gv)};
  };
  const auto [hf, gf] = run(0.0f);
  const auto [hd, gd] = run(0.0);
  for (std::int64_t i = 0; i < hd.numel(); ++i) {
    BOOST_TEST(std::abs(hf[i] - hd[i]) <= 1e-5 + 1e-4 * std::abs(hd[i]));
    BOOST_TEST(std::abs(gf[i] - gd[i]) <= 1e-5 + 1e-4 * std::abs(gd[i]));
  }
}

// The fused cells and RecurrentLinear (through whole layers: fused and generic, bidirectional,
// with lengths and packed sequences) against finite differences of the gradient.
BOOST_AUTO_TEST_CASE(hvp_through_every_recurrent_layer_matches_finite_differences) {
  for (auto mode :
       {models::RecurrentMode::rnn_tanh, models::RecurrentMode::lstm, models::RecurrentMode::gru}) {
    for (auto [fused, checkpoint] : {std::pair{true, 0}, {false, 0}, {true, 3}, {false, 3}}) {
      BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " fused " << fused << " checkpoint "
                                 << checkpoint) {
        Generator rng(5);
        models::RecurrentOptions o;
        o.input_size = 2;
        o.hidden_size = 3;
        o.bidirectional = true;
        o.fused = fused;
        o.checkpoint = checkpoint;
        models::RecurrentLayer<double> layer(mode, o, rng);
        std::vector<Tensor<double>> inputs{random_tensor({4, 2, 2}, 7)};
        for (auto& p : layer.parameters()) inputs.push_back(p->value());
        auto f = [&](Tape<double>& tape, const std::vector<Var<double>>& v) {
          const std::int64_t lengths[] = {4, 3};
          const Var<double> out =
              layer
                  .forward_with(std::span<const Var<double>>(v).subspan(1), tape, v[0], {}, lengths)
                  .output;
          return sum(out * out);
        };
        const GradcheckResult r = gradcheck(f, inputs);
        BOOST_TEST(r.passed, r.message);
        BOOST_TEST(r.curvature_checked, r.no_curvature);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(layer_norm_matches_finite_differences) {
  auto f = [](Tape<double>&, const std::vector<Var<double>>& v) {
    const Var<double> y = layer_norm(v[0], Shape{2, 3}, v[1], v[2]);
    return y * y;
  };
  const GradcheckResult r = gradcheck(
      f, {random_tensor({2, 2, 3}, 125), random_tensor({2, 3}, 126), random_tensor({2, 3}, 127)});
  BOOST_TEST(r.passed, r.message);
  BOOST_TEST(r.curvature_checked, r.no_curvature);
}

BOOST_AUTO_TEST_CASE(operators_without_a_second_order_rule_are_named) {
  Tape<double> tape;
  const Tensor<double> x = random_tensor({2, 1, 3}, 120);
  const Var<double> a = tape.input(x.ref(), true);
  const Var<double> z = log_softmax(a * 2.0);
  const std::int64_t targets[] = {1};
  const std::int64_t input_lengths[] = {2};
  const std::int64_t target_lengths[] = {1};
  const Var<double> loss = ctc_loss(z, targets, input_lengths, target_lengths);
  Tensor<double> out({2, 1, 3});
  const Var<double> inputs[] = {a};
  const TensorRef<const double> directions[] = {x.ref()};
  const TensorRef<double> products[] = {out.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.hvp(loss, inputs, directions, products), NotImplementedError,
                               "ctc_loss has no second-order rule");
  // The Gauss-Newton product needs second-order rules only after the network's output: here
  // the loss part is ctc_loss itself, so it is refused too, naming it.
  TAPELOOP_CHECK_THROW_MESSAGE(tape.gnvp(loss, z, inputs, directions, products),
                               NotImplementedError, "ctc_loss");
  // Another loss on the same network output runs.
  const Var<double> squared = sum(z * z);
  tape.gnvp(squared, z, inputs, directions, products);
  for (std::int64_t i = 0; i < out.numel(); ++i) BOOST_TEST(std::isfinite(out[i]));
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_reported) {
  Tape<double> tape;
  const Tensor<double> x = random_tensor({2, 3}, 130);
  const Var<double> a = tape.input(x.ref(), true);
  const Var<double> y = tanh(a);
  const Var<double> loss = sum(y);
  Tensor<double> good({2, 3}), wrong({3, 2});
  const Var<double> inputs[] = {a};
  const TensorRef<const double> directions[] = {x.ref()};
  const TensorRef<double> products[] = {good.ref()};
  const TensorRef<double> wrong_products[] = {wrong.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.hvp(y, inputs, directions, products), ShapeError,
                               "is not a single value");
  TAPELOOP_CHECK_THROW_MESSAGE(tape.hvp(loss, inputs, directions, wrong_products), ShapeError,
                               "product of shape [3,2] for an input of shape [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(
      tape.hvp(loss, inputs, directions, std::span<const TensorRef<double>>{}), ValueError,
      "1 inputs but 0 products");
  TAPELOOP_CHECK_THROW_MESSAGE(tape.gnvp(y, loss, inputs, directions, products), TapeError,
                               "must be recorded before the loss");
  const Var<double> constant = sum(tape.constant(x.ref()));
  TAPELOOP_CHECK_THROW_MESSAGE(tape.hvp(constant, inputs, directions, products), TapeError,
                               "does not depend on anything that requires a gradient");
}

BOOST_AUTO_TEST_SUITE_END()
