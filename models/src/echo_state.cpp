// Echo state network: a sparse random reservoir at a chosen spectral radius, and its readout fit
// by ridge regression or by gradient descent on the tape with the reservoir frozen.
#include "tapeloop/models/echo_state.hpp"

#include <cmath>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/loss.hpp"
#include "tapeloop/ops/matmul.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/optim.hpp"

namespace tapeloop::models {

double spectral_radius(const Tensor<double>& m, Generator& rng) {
  const std::int64_t n = m.shape()[0];
  std::vector<double> v(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n));
  for (double& x : v) x = rng.normal();
  // |lambda_max|^k grows the vector; the average log growth over the last half of the
  // iterations is log |lambda_max| (a complex pair rotates but grows at the same rate).
  constexpr int iterations = 400;
  double log_growth = 0;
  for (int it = 0; it < iterations; ++it) {
    double norm = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < n; ++j) s += m[i * n + j] * v[static_cast<std::size_t>(j)];
      w[static_cast<std::size_t>(i)] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) return 0;
    for (std::int64_t i = 0; i < n; ++i)
      v[static_cast<std::size_t>(i)] = w[static_cast<std::size_t>(i)] / norm;
    if (it >= iterations / 2) log_growth += std::log(norm);
  }
  return std::exp(log_growth / (iterations - iterations / 2));
}

Tensor<double> ridge_regression(const Tensor<double>& a, const Tensor<double>& b, double ridge) {
  const std::int64_t m = a.shape()[0], n = a.shape()[1], k = b.shape()[1];
  // The normal equations, then A^T A + ridge I = L L^T.
  std::vector<double> g(static_cast<std::size_t>(n * n), 0.0),
      r(static_cast<std::size_t>(n * k), 0.0);
  for (std::int64_t row = 0; row < m; ++row) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double ai = a[row * n + i];
      for (std::int64_t j = 0; j <= i; ++j)
        g[static_cast<std::size_t>(i * n + j)] += ai * a[row * n + j];
      for (std::int64_t c = 0; c < k; ++c)
        r[static_cast<std::size_t>(i * k + c)] += ai * b[row * k + c];
    }
  }
  for (std::int64_t i = 0; i < n; ++i) g[static_cast<std::size_t>(i * n + i)] += ridge;
  for (std::int64_t j = 0; j < n; ++j) {  // Cholesky, lower triangle in place
    double d = g[static_cast<std::size_t>(j * n + j)];
    for (std::int64_t p = 0; p < j; ++p)
      d -= g[static_cast<std::size_t>(j * n + p)] * g[static_cast<std::size_t>(j * n + p)];
    if (!(d > 0)) {
      throw ValueError("ridge_regression: the normal equations are not positive definite (pivot " +
                       std::to_string(j) + "); raise the ridge");
    }
    const double l = std::sqrt(d);
    g[static_cast<std::size_t>(j * n + j)] = l;
    for (std::int64_t i = j + 1; i < n; ++i) {
      double s = g[static_cast<std::size_t>(i * n + j)];
      for (std::int64_t p = 0; p < j; ++p)
        s -= g[static_cast<std::size_t>(i * n + p)] * g[static_cast<std::size_t>(j * n + p)];
      g[static_cast<std::size_t>(i * n + j)] = s / l;
    }
  }
  Tensor<double> x({n, k});
  for (std::int64_t c = 0; c < k; ++c) {  // L y = r, then L^T x = y
    for (std::int64_t i = 0; i < n; ++i) {
      double s = r[static_cast<std::size_t>(i * k + c)];
      for (std::int64_t p = 0; p < i; ++p)
        s -= g[static_cast<std::size_t>(i * n + p)] * x[p * k + c];
      x[i * k + c] = s / g[static_cast<std::size_t>(i * n + i)];
    }
    for (std::int64_t i = n - 1; i >= 0; --i) {
      double s = x[i * k + c];
      for (std::int64_t p = i + 1; p < n; ++p)
        s -= g[static_cast<std::size_t>(p * n + i)] * x[p * k + c];
      x[i * k + c] = s / g[static_cast<std::size_t>(i * n + i)];
    }
  }
  return x;
}

EchoStateNetwork::EchoStateNetwork(std::int64_t inputs, std::int64_t outputs,
                                   const EchoStateConfig& c)
    : ridge_(c.ridge) {
  if (inputs < 1 || outputs < 1 || c.reservoir < 1 || !(c.spectral_radius >= 0) ||
      !(c.input_scale >= 0) || !(c.connectivity > 0 && c.connectivity <= 1)) {
    throw ValueError(
        "EchoStateNetwork: sizes must be positive, the spectral radius and input "
        "scale not negative, the connectivity in (0, 1]");
  }
  Generator rng(c.seed);
  const std::int64_t R = c.reservoir;
  Tensor<double> res = Tensor<double>::zeros({R, R});
  for (std::int64_t i = 0; i < R * R; ++i) {
    if (rng.uniform() < c.connectivity) res[i] = rng.normal();
  }
  const double radius = spectral_radius(res, rng);
  if (radius > 0) {
    for (std::int64_t i = 0; i < R * R; ++i) res[i] *= c.spectral_radius / radius;
  }
  w_in = Parameter<double>(Tensor<double>::uniform({inputs, R}, -c.input_scale, c.input_scale, rng),
                           "w_in");
  w_res = Parameter<double>(std::move(res), "w_res");
  bias = Parameter<double>(Tensor<double>::uniform({R}, -0.1, 0.1, rng), "bias");
  w_out = Parameter<double>(Tensor<double>::zeros({R + 1, outputs}), "w_out");
  // The reservoir is fixed: only the readout learns.
  for (Parameter<double>* p : {&w_in, &w_res, &bias}) p->set_requires_grad(false);
}

Tensor<double> EchoStateNetwork::states(const Tensor<double>& inputs, const Tensor<double>* start) {
  const std::int64_t T = inputs.shape()[0], B = inputs.shape()[1], R = w_res.shape()[0];
  Tape<double> tape;
  auto no_grad = tape.no_grad();
  const Var<double> wi = w_in.var(tape), wr = w_res.var(tape), b = bias.var(tape);
  Var<double> h = start ? tape.constant(start->ref()) : tape.zeros({B, R});
  const Var<double> xs = tape.constant(inputs.ref());
  Tensor<double> out({T, B, R});
  for (std::int64_t t = 0; t < T; ++t) {
    h = tanh(matmul(select(xs, 0, t), wi) + matmul(h, wr) + b);
    std::copy(h.value().data, h.value().data + B * R, out.data() + t * B * R);
  }
  return out;
}

namespace {

// [states, 1] rows after the washout: [(T - washout) * B, R + 1], and the matching targets.
void design(const Tensor<double>& states, const Tensor<double>& targets, std::int64_t washout,
            Tensor<double>& a, Tensor<double>& y) {
  const std::int64_t T = states.shape()[0], B = states.shape()[1], R = states.shape()[2];
  const std::int64_t O = targets.shape()[2];
  if (washout < 0 || washout >= T) {
    throw ValueError("EchoStateNetwork: washout " + std::to_string(washout) +
                     " leaves no step of " + std::to_string(T));
  }
  const std::int64_t rows = (T - washout) * B;
  a = Tensor<double>({rows, R + 1});
  y = Tensor<double>({rows, O});
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t src = washout * B + r;
    for (std::int64_t j = 0; j < R; ++j) a[r * (R + 1) + j] = states[src * R + j];
    a[r * (R + 1) + R] = 1.0;
    for (std::int64_t o = 0; o < O; ++o) y[r * O + o] = targets[src * O + o];
  }
}

}  // namespace

void EchoStateNetwork::fit_ridge(const Tensor<double>& states, const Tensor<double>& targets,
                                 std::int64_t washout) {
  Tensor<double> a, y;
  design(states, targets, washout, a, y);
  w_out.value() = ridge_regression(a, y, ridge_);
}

double EchoStateNetwork::fit_gradient(const Tensor<double>& states, const Tensor<double>& targets,
                                      std::int64_t washout, int steps, double learning_rate) {
  Tensor<double> a, y;
  design(states, targets, washout, a, y);
  Adam<double> optimizer({&w_out}, {.lr = learning_rate});
  Tape<double> tape;
  double mse = 0;
  for (int step = 0; step < steps; ++step) {
    tape.clear();
    optimizer.zero_grad();
    const Var<double> loss =
        mse_loss(matmul(tape.constant(a.ref()), w_out.var(tape)), tape.constant(y.ref()));
    tape.backward(loss);
    optimizer.step();
    mse = loss.item();
  }
  return mse;
}

Tensor<double> EchoStateNetwork::readout(const Tensor<double>& states) const {
  const std::int64_t T = states.shape()[0], B = states.shape()[1], R = states.shape()[2];
  const std::int64_t O = w_out.shape()[1];
  Tensor<double> out = Tensor<double>::zeros({T, B, O});
  const Tensor<double>& w = w_out.value();
  for (std::int64_t r = 0; r < T * B; ++r) {
    for (std::int64_t o = 0; o < O; ++o) {
      double s = w[R * O + o];
      for (std::int64_t j = 0; j < R; ++j) s += states[r * R + j] * w[j * O + o];
      out[r * O + o] = s;
    }
  }
  return out;
}

Tensor<double> EchoStateNetwork::generate(const Tensor<double>& start, const Tensor<double>& last,
                                          std::int64_t steps) {
  const std::int64_t O = w_out.shape()[1];
  Tensor<double> h = start, x = last;
  Tensor<double> out({steps, 1, O});
  for (std::int64_t t = 0; t < steps; ++t) {
    const Tensor<double> s =
        states(Tensor<double>::from(Shape{1, 1, O}, std::vector<double>(x.begin(), x.end())), &h);
    const Tensor<double> y = readout(s);
    h = Tensor<double>::from(Shape{1, s.shape()[2]}, std::vector<double>(s.begin(), s.end()));
    for (std::int64_t o = 0; o < O; ++o) out[t * O + o] = x[o] = y[o];
  }
  return out;
}

double EchoStateNetwork::measured_spectral_radius() const {
  Generator rng(7);
  return spectral_radius(w_res.value(), rng);
}

}  // namespace tapeloop::models
