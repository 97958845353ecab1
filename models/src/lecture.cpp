// The list of the lecture's demos, in the lecture's order.
#include "tapeloop/models/lecture.hpp"

namespace tapeloop::models {

const std::vector<Demo>& lecture_demos() {
  static const std::vector<Demo> demos = {
      {"hmm", "7a", "an HMM, its forward algorithm a scan cell, trained by gradient next to an RNN",
       hmm_demo},
      {"binary-addition", "7c",
       "an RNN learns to add binary numbers; it generalizes to 64 bits, and its hidden states "
       "are the adding automaton's",
       binary_addition_demo},
      {"gradient-flow", "7d",
       "exploding and vanishing gradients measured through 100 steps of tanh RNNs and LSTMs",
       gradient_flow_demo},
      {"adding-problem", "7d",
       "a long-range task: the LSTM learns it, a tanh RNN stays at the constant baseline",
       adding_problem_demo},
      {"hessian-free", "7d",
       "Hessian-free optimization trains a tanh RNN on the adding problem; SGD and Adam do not",
       hessian_free_demo},
      {"echo-state", "7d",
       "an echo state network: fixed random reservoir, learned readout, generates sinusoids",
       echo_state_demo},
      {"handwriting", "7e",
       "a bidirectional LSTM trained with CTC reads cursive words it never saw", handwriting_demo},
  };
  return demos;
}

}  // namespace tapeloop::models
