// A frozen-input check with a finite sentinel: gradcheck's NaN-filled buffer cannot reveal a
// backward rule that adds (+=) into a gradient nobody asked for, since NaN + x is still NaN.
#pragma once

#include <boost/test/unit_test.hpp>
#include <vector>

#include "tapeloop/tapeloop.hpp"

namespace tapeloop::testing {

/// For each input in turn: records fn(tape, inputs) with that input not requiring a gradient,
/// fills its gradient buffer with a sentinel, backpropagates ones, and checks the buffer is
/// unchanged.
template <class Fn>
void check_frozen_inputs_untouched(Fn fn, const std::vector<Tensor<double>>& inputs) {
  constexpr double sentinel = 12345.0;
  for (std::size_t frozen = 0; frozen < inputs.size(); ++frozen) {
    Tape<double> tape;
    std::vector<Var<double>> xs;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      xs.push_back(tape.input(inputs[i].ref(), i != frozen));
    Var<double> y = fn(tape, xs);
    TensorRef<double> g = xs[frozen].grad();
    for (double& v : g) v = sentinel;
    if (!y.requires_grad()) continue;
    tape.backward(y, Tensor<double>::ones(y.shape()).ref());
    int changed = 0;
    for (double v : g) changed += v != sentinel;
    BOOST_CHECK_MESSAGE(changed == 0,
                        "input " << frozen << " does not require a gradient, but backward changed "
                                 << changed << " of its gradient elements");
  }
}

}  // namespace tapeloop::testing
