// A rank that fails or stops must end the whole job with a message, not leave the others
// waiting: run under mpirun -np 2, the CTest entries match the message.
//   abort_probe timeout   rank 1 never joins the all-reduce; rank 0 gives up after 2 s
//   abort_probe throw     rank 1 throws out of main; its Environment aborts the job
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tapeloop/distributed.hpp"

int main(int argc, char** argv) {
  namespace dist = tapeloop::distributed;
  dist::Environment mpi(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  dist::Communicator comm = dist::Communicator::world();
  comm.set_timeout(std::chrono::seconds(2));
  std::vector<float> x(1000, 1.0f);
  if (mode == "timeout") {
    if (comm.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(60));  // stands for a hung rank
    } else {
      comm.all_reduce_sum(std::span<float>(x));
    }
  } else if (mode == "throw") {
    if (comm.rank() == 1) throw std::runtime_error("rank 1's data file is damaged");
    comm.all_reduce_sum(std::span<float>(x));
  }
  std::printf("abort_probe: the job was not aborted\n");
  return 0;
}
