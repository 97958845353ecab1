// A checkpoint writer killed at a random point of a save (SIGKILL: no unwinding, no cleanup)
// leaves the previous checkpoint loadable and intact: the file is only ever replaced whole.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "support/check.hpp"
#include "support/files.hpp"

using namespace tapeloop;

BOOST_AUTO_TEST_SUITE(test_crash_safety)

BOOST_AUTO_TEST_CASE(killed_writer_leaves_a_whole_checkpoint) {
  testing::TempDir dir("killed-writer");
  const std::filesystem::path path = dir.path() / "model.safetensors";
  // 8 MB, so that a save takes long enough to be killed in the middle of it.
  constexpr std::int64_t n = 2'000'000;
  Parameter<float> w(Tensor<float>::full({n}, 1.0f), "w");
  save_parameters(path, {&w});
  Generator rng(3);
  int killed_mid_write = 0, saw_old = 0, saw_new = 0;
  for (int trial = 0; trial < 25; ++trial) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child saves a second version again and again until it is killed.
      Parameter<float> v(Tensor<float>::full({n}, 2.0f), "w");
      for (;;) save_parameters(path, {&v});
    }
    ::usleep(static_cast<useconds_t>(rng.below(200'000)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST(WIFSIGNALED(status));
    // A temporary left behind means the kill landed inside a save.
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      if (entry.path() != path) {
        ++killed_mid_write;
        std::filesystem::remove(entry.path());
      }
    }
    // Whatever the moment, the file is one whole version: all ones or all twos.
    Parameter<float> r(Tensor<float>::zeros({n}), "w");
    BOOST_REQUIRE_NO_THROW(load_parameters(path, {&r}));
    const float first = r.value()[0];
    BOOST_TEST((first == 1.0f || first == 2.0f));
    std::int64_t differing = 0;
    for (float x : r.value()) differing += x != first;
    BOOST_TEST(differing == 0);
    (first == 1.0f ? saw_old : saw_new) += 1;
  }
  BOOST_TEST_MESSAGE("kills inside a save: " << killed_mid_write
                                             << " of 25; loaded the old version " << saw_old
                                             << " times, the new " << saw_new);
  BOOST_TEST(killed_mid_write > 0);  // the test did interrupt saves
}

BOOST_AUTO_TEST_SUITE_END()
