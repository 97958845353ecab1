// What a build reports about itself: the kernels' instruction set, the BLAS core, and that the
// CPU running the tests has every extension the build was compiled for.
#include <string>

#include "kernels/simd.hpp"
#include "support/check.hpp"
#include "tapeloop/ops/build_info.hpp"
#include "tapeloop/version.hpp"

using namespace tapeloop;

BOOST_AUTO_TEST_SUITE(test_build_info)

BOOST_AUTO_TEST_CASE(the_kernel_isa_names_the_batch_width) {
  const std::string isa = kernel_isa();
  BOOST_TEST_MESSAGE("kernels: " << isa << "; BLAS: " << blas_info());
  const std::string bits = std::to_string(8 * sizeof(kernels::Vec<float>)) + "-bit";
  BOOST_TEST(isa.find(bits) != std::string::npos, isa << " does not say " << bits);
#if defined(__AVX2__) && defined(__FMA__) && !defined(TAPELOOP_SIMD_512)
  BOOST_TEST(isa == "avx2+fma, 256-bit");  // also on AVX-512 CPUs: one width everywhere
#endif
}

BOOST_AUTO_TEST_CASE(this_cpu_runs_the_build) {
  // The tests run where they were built (-march=native or an older target), so nothing the
  // build needs can be missing here.
  BOOST_TEST(missing_cpu_features() == "");
}

BOOST_AUTO_TEST_CASE(the_blas_names_its_kernels) {
  const std::string blas = blas_info();
  BOOST_TEST(blas.find("OpenBLAS") == 0, blas);
  BOOST_TEST(blas.find(" kernels") != std::string::npos, blas);
}

BOOST_AUTO_TEST_CASE(the_library_and_the_headers_are_one_version) {
  BOOST_TEST(std::string(version()) == TAPELOOP_VERSION_STRING);
  const std::string numbers = std::to_string(TAPELOOP_VERSION_MAJOR) + "." +
                              std::to_string(TAPELOOP_VERSION_MINOR) + "." +
                              std::to_string(TAPELOOP_VERSION_PATCH);
  BOOST_TEST(numbers == TAPELOOP_VERSION_STRING);
  BOOST_TEST(TAPELOOP_VERSION == TAPELOOP_VERSION_MAJOR * 10000 + TAPELOOP_VERSION_MINOR * 100 +
                                     TAPELOOP_VERSION_PATCH);
}

BOOST_AUTO_TEST_SUITE_END()
