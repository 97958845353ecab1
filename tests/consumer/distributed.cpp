// A user's data-parallel program against the installed tapeloop::distributed: a GRU regression
// trained on every rank's shard; the replicas must stay equal and the loss fall.
#include <cstdio>
#include <vector>

#include "tapeloop/distributed.hpp"
#include "tapeloop/models.hpp"
#include "tapeloop/tapeloop.hpp"

int main(int argc, char** argv) {
  namespace dist = tapeloop::distributed;
  using namespace tapeloop;
  dist::Environment mpi(argc, argv);
  dist::Communicator comm = dist::Communicator::world();
  Generator rng(1);
  models::GRU<float> gru(models::RecurrentOptions{.input_size = 2, .hidden_size = 8}, rng);
  models::Linear<float> head(8, 1, rng);
  std::vector<Parameter<float>*> params = gru.parameters();
  for (Parameter<float>* p : head.parameters()) params.push_back(p);
  Adam<float> adam(params, {.lr = 0.02});
  dist::DataParallel<float> dp(comm, params);
  const std::int64_t steps = 6, batch = 16;
  Generator data(2);
  Tape<float> tape;
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    // The global batch, the same on every rank; each keeps its shard.
    std::vector<float> x(steps * batch * 2), y(batch);
    for (float& v : x) v = static_cast<float>(data.uniform(-1, 1));
    for (std::int64_t b = 0; b < batch; ++b) y[b] = x[((steps - 1) * batch + b) * 2];
    const dist::Shard s = dist::shard_of(batch, comm.rank(), comm.size());
    std::vector<float> xs, ys(y.begin() + s.begin, y.begin() + s.end);
    for (std::int64_t t = 0; t < steps; ++t) {
      xs.insert(xs.end(), x.begin() + (t * batch + s.begin) * 2,
                x.begin() + (t * batch + s.end) * 2);
    }
    tape.clear();
    adam.zero_grad();
    Var<float> input = tape.constant(Tensor<float>::from({steps, s.size(), 2}, xs));
    Var<float> h = select(gru.forward(tape, input).output, 0, steps - 1);
    Var<float> target = tape.constant(Tensor<float>::from({s.size(), 1}, ys));
    const dist::GlobalLoss loss =
        dp.backward(tape, mse_loss(head.forward(h), target, Reduction::sum), s.size());
    adam.step();
    (step == 0 ? first : last) = loss.mean;
  }
  dp.check_replicas(&adam);
  if (comm.rank() == 0) {
    std::printf("consumer (distributed, %d rank%s): loss %.4f -> %.4f, replicas equal\n",
                comm.size(), comm.size() > 1 ? "s" : "", first, last);
  }
  return last < 0.5 * first ? 0 : 1;
}
