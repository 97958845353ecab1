// gradcheck: numerical Jacobian (central differences) against backward, plus the accumulation,
// frozen-input and unwritten-output checks.
#include "tapeloop/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "tapeloop/errors.hpp"
#include "tapeloop/random.hpp"

namespace tapeloop {
namespace {

constexpr int max_reported_failures = 8;

struct Checker {
  Checker(const GradcheckFunction& fn, const std::vector<Tensor<double>>& xs,
          const GradcheckOptions& opts)
      : f(fn), inputs(xs), options(opts) {}

  const GradcheckFunction& f;
  const std::vector<Tensor<double>>& inputs;
  const GradcheckOptions& options;
  GradcheckResult result;
  int failures = 0;
  Tape<double> tape;

  void fail(const std::string& what) {
    result.passed = false;
    if (failures++ < max_reported_failures) result.message += what + "\n";
  }

  // Records f on a fresh recording. `frozen` (or -1) is the input recorded without gradient.
  Var<double> record(const std::vector<Tensor<double>>& xs, bool with_grad, int frozen,
                     std::vector<Var<double>>& leaves) {
    tape.clear();
    tape.set_poison_values(options.poison_values);
    leaves.clear();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      leaves.push_back(tape.input(xs[i].ref(), with_grad && static_cast<int>(i) != frozen));
    }
    return f(tape, leaves);
  }

  Tensor<double> evaluate(const std::vector<Tensor<double>>& xs) {
    std::vector<Var<double>> leaves;
    auto guard = tape.no_grad();
    return record(xs, false, -1, leaves).to_tensor();
  }

  // Analytic v^T J for every input, using the prefill-and-subtract trick.
  std::vector<Tensor<double>> analytic(const Tensor<double>& seed, Generator& rng) {
    std::vector<Var<double>> leaves;
    Var<double> y = record(inputs, true, -1, leaves);
    std::vector<Tensor<double>> prefill;
    for (Var<double>& leaf : leaves) {
      Tensor<double> p = options.check_accumulation
                             ? Tensor<double>::normal(leaf.shape(), 0.0, 1.0, rng)
                             : Tensor<double>::zeros(leaf.shape());
      std::copy(p.begin(), p.end(), leaf.grad().data);
      prefill.push_back(std::move(p));
    }
    if (y.requires_grad()) tape.backward(y, seed.ref());
    std::vector<Tensor<double>> grads;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      Tensor<double> g = Tensor<double>::from(TensorRef<const double>(leaves[i].grad()));
      for (std::int64_t k = 0; k < g.numel(); ++k) g[k] -= prefill[i][k];
      grads.push_back(std::move(g));
    }
    return grads;
  }

  void compare(double a, double n, const std::string& where, const char* mode = "backward") {
    ++result.entries_checked;
    const double err = std::abs(a - n);
    if (!(err <= options.atol + options.rtol * std::max(std::abs(a), std::abs(n)))) {
      std::ostringstream s;
      s.precision(10);
      s << where << ": " << mode << " gives " << a << ", finite differences give " << n;
      fail(s.str());
    }
    if (std::isfinite(err)) result.max_abs_error = std::max(result.max_abs_error, err);
  }

  void run() {
    Generator rng(options.seed);
    const Tensor<double> y0 = evaluate(inputs);
    for (std::int64_t k = 0; k < y0.numel(); ++k) {
      if (std::isnan(y0[k])) {
        fail("output element " + std::to_string(k) + " is NaN (left unwritten by an operator?)");
        return;
      }
    }

    // The directions v whose v^T J is checked.
    std::vector<Tensor<double>> seeds;
    if (y0.numel() <= options.full_jacobian_max_outputs) {
      for (std::int64_t k = 0; k < y0.numel(); ++k) {
        Tensor<double> e = Tensor<double>::zeros(y0.shape());
        e[k] = 1.0;
        seeds.push_back(std::move(e));
      }
    } else {
      for (int p = 0; p < options.projections; ++p) {
        seeds.push_back(Tensor<double>::normal(y0.shape(), 0.0, 1.0, rng));
      }
    }

    std::vector<std::vector<Tensor<double>>> analytic_rows;
    for (const Tensor<double>& v : seeds) analytic_rows.push_back(analytic(v, rng));

    std::vector<Tensor<double>> xs = inputs;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      for (std::int64_t j = 0; j < xs[i].numel(); ++j) {
        const double original = xs[i][j];
        xs[i][j] = original + options.eps;
        const Tensor<double> plus = evaluate(xs);
        xs[i][j] = original - options.eps;
        const Tensor<double> minus = evaluate(xs);
        xs[i][j] = original;
        for (std::size_t s = 0; s < seeds.size(); ++s) {
          double dot = 0;
          for (std::int64_t k = 0; k < plus.numel(); ++k) dot += seeds[s][k] * (plus[k] - minus[k]);
          const double numerical = dot / (2 * options.eps);
          compare(analytic_rows[s][i][j], numerical,
                  "input " + std::to_string(i) + " element " + std::to_string(j) +
                      (seeds.size() == static_cast<std::size_t>(y0.numel()) &&
                               y0.numel() <= options.full_jacobian_max_outputs
                           ? ", output element " + std::to_string(s)
                           : ", projection " + std::to_string(s)));
        }
      }
    }

    if (options.check_frozen_inputs && !seeds.empty()) check_frozen(seeds.front(), rng);
    if (options.check_tangents) check_tangents(rng);
    if (options.check_curvature) check_curvature(rng);
  }

  // The gradient of <w, f> at xs, one per input (zero for an output that needs none).
  std::vector<Tensor<double>> gradient_of_projection(const std::vector<Tensor<double>>& xs,
                                                     const Tensor<double>& w) {
    std::vector<Var<double>> leaves;
    Var<double> y = record(xs, true, -1, leaves);
    if (y.requires_grad()) tape.backward(y, w.ref());
    std::vector<Tensor<double>> grads;
    for (Var<double>& leaf : leaves) {
      grads.push_back(Tensor<double>::from(TensorRef<const double>(leaf.grad())));
    }
    return grads;
  }

  // H v of s = <w, f> from Tape::hvp along a random direction v of every input at once,
  // against central differences of the gradient of s along v.
  void check_curvature(Generator& rng) {
    std::vector<Var<double>> leaves;
    Var<double> y = record(inputs, true, -1, leaves);
    if (!y.requires_grad()) return;
    const Tensor<double> w = Tensor<double>::normal(y.shape(), 0.0, 1.0, rng);
    std::vector<Tensor<double>> v, hv;
    std::vector<TensorRef<const double>> directions;
    std::vector<TensorRef<double>> products;
    for (const Var<double>& leaf : leaves) {
      v.push_back(Tensor<double>::normal(leaf.shape(), 0.0, 1.0, rng));
      hv.push_back(Tensor<double>::zeros(leaf.shape()));
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      directions.push_back(v[i].ref());
      products.push_back(hv[i].ref());
    }
    try {
      tape.hvp(y, w.ref(), leaves, directions, products);
    } catch (const NotImplementedError& e) {
      result.no_curvature = e.what();
      return;
    }
    std::vector<Tensor<double>> plus = inputs, minus = inputs;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      for (std::int64_t j = 0; j < inputs[i].numel(); ++j) {
        plus[i][j] += options.eps * v[i][j];
        minus[i][j] -= options.eps * v[i][j];
      }
    }
    const std::vector<Tensor<double>> gp = gradient_of_projection(plus, w);
    const std::vector<Tensor<double>> gm = gradient_of_projection(minus, w);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      for (std::int64_t j = 0; j < inputs[i].numel(); ++j) {
        compare(
            hv[i][j], (gp[i][j] - gm[i][j]) / (2 * options.eps),
            "Hessian-vector product, input " + std::to_string(i) + " element " + std::to_string(j),
            "hvp");
      }
    }
    result.curvature_checked = true;
  }

  // J v from Tape::jvp along a random direction v of every input at once, against central
  // differences along v.
  void check_tangents(Generator& rng) {
    std::vector<Var<double>> leaves;
    Var<double> y = record(inputs, true, -1, leaves);
    std::vector<Tensor<double>> v;
    std::vector<TensorRef<const double>> refs;
    for (const Var<double>& leaf : leaves)
      v.push_back(Tensor<double>::normal(leaf.shape(), 0.0, 1.0, rng));
    for (const Tensor<double>& d : v) refs.push_back(d.ref());
    if (y.requires_grad()) {
      try {
        tape.jvp(leaves, refs);
      } catch (const NotImplementedError& e) {
        result.no_tangent = e.what();
        return;
      }
    }
    const Tensor<double> analytic = Tensor<double>::from(tape.tangent(y));
    // J v = sum_i J_i v_i, each term from its own central difference: perturbing one input at a
    // time keeps the estimate symmetric where the function is not differentiable in an input
    // the operator treats as data (the condition of where flips both ways alike).
    std::vector<double> numerical(static_cast<std::size_t>(analytic.numel()), 0.0);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      std::vector<Tensor<double>> plus = inputs, minus = inputs;
      for (std::int64_t j = 0; j < inputs[i].numel(); ++j) {
        plus[i][j] += options.eps * v[i][j];
        minus[i][j] -= options.eps * v[i][j];
      }
      const Tensor<double> fp = evaluate(plus);
      const Tensor<double> fm = evaluate(minus);
      for (std::int64_t k = 0; k < analytic.numel(); ++k) {
        numerical[static_cast<std::size_t>(k)] += (fp[k] - fm[k]) / (2 * options.eps);
      }
    }
    for (std::int64_t k = 0; k < analytic.numel(); ++k) {
      compare(analytic[k], numerical[static_cast<std::size_t>(k)],
              "tangent, output element " + std::to_string(k), "jvp");
    }
    result.tangents_checked = true;
  }

  // With input `frozen` not requiring a gradient, its gradient buffer must stay untouched. It is
  // filled with random sentinels and compared bit for bit afterwards (NaN would not do: a rule
  // that wrongly adds into it would leave NaN as NaN).
  void check_frozen(const Tensor<double>& seed, Generator& rng) {
    for (std::size_t frozen = 0; frozen < inputs.size(); ++frozen) {
      std::vector<Var<double>> leaves;
      Var<double> y = record(inputs, true, static_cast<int>(frozen), leaves);
      TensorRef<double> g = leaves[frozen].grad();
      const Tensor<double> sentinel = Tensor<double>::normal(g.shape, 0.0, 1.0, rng);
      std::copy(sentinel.begin(), sentinel.end(), g.data);
      if (!y.requires_grad()) continue;  // nothing else requires a gradient
      tape.backward(y, seed.ref());
      for (std::int64_t k = 0; k < g.numel(); ++k) {
        if (std::memcmp(&g[k], &sentinel[k], sizeof(double)) != 0) {
          fail("input " + std::to_string(frozen) +
               " does not require a gradient, but backward wrote its element " + std::to_string(k));
          break;
        }
      }
    }
  }
};

}  // namespace

GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor<double>>& inputs,
                          const GradcheckOptions& options) {
  Checker checker(f, inputs, options);
  checker.run();
  if (checker.failures > max_reported_failures) {
    checker.result.message +=
        "... and " + std::to_string(checker.failures - max_reported_failures) + " more\n";
  }
  return checker.result;
}

}  // namespace tapeloop
