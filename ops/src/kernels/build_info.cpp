// The kernels' instruction set and the BLAS core, named for reports (tapeloop/ops/build_info.hpp).
#include "tapeloop/ops/build_info.hpp"

#include <cblas.h>

#include <string>

#include "simd.hpp"

// OpenBLAS's own queries (openblas_config.h declares them where cblas.h comes from OpenBLAS).
extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);

namespace tapeloop {

std::string kernel_isa() {
  std::string name = kernels::KernelArch::name();
  if (name == "fma3+avx2") name = "avx2+fma";
  return name + ", " + std::to_string(8 * sizeof(kernels::Vec<float>)) + "-bit";
}

// Compiled for the baseline x86-64 so that this check itself runs on any x86-64 CPU.
#if defined(__x86_64__)
__attribute__((target("arch=x86-64")))
#endif
bool kernel_isa_supported() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) return false;
#endif
#if defined(__AVX512VL__)
  if (!__builtin_cpu_supports("avx512vl")) return false;
#endif
#if defined(__AVX512BW__)
  if (!__builtin_cpu_supports("avx512bw")) return false;
#endif
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2")) return false;
#endif
#if defined(__FMA__)
  if (!__builtin_cpu_supports("fma")) return false;
#endif
#endif
  return true;
}

std::string blas_info() {
  // openblas_get_config() reads like "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell
  // MAX_THREADS=64"; its first two words name the library and version.
  std::string config = openblas_get_config();
  std::string::size_type end = config.find(' ');
  if (end != std::string::npos) end = config.find(' ', end + 1);
  return config.substr(0, end) + ", " + openblas_get_corename() + " kernels";
}

}  // namespace tapeloop
