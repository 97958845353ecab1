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
std::string
missing_cpu_features() {
  std::string missing;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  auto need = [&](bool has, const char* name) {
    if (!has) missing += missing.empty() ? name : std::string(" ") + name;
  };
#if defined(__AVX__)
  need(__builtin_cpu_supports("avx"), "avx");
#endif
#if defined(__AVX2__)
  need(__builtin_cpu_supports("avx2"), "avx2");
#endif
#if defined(__FMA__)
  need(__builtin_cpu_supports("fma"), "fma");
#endif
#if defined(__AVX512F__)
  need(__builtin_cpu_supports("avx512f"), "avx512f");
#endif
#if defined(__AVX512VL__)
  need(__builtin_cpu_supports("avx512vl"), "avx512vl");
#endif
#if defined(__AVX512BW__)
  need(__builtin_cpu_supports("avx512bw"), "avx512bw");
#endif
#if defined(__AVX512DQ__)
  need(__builtin_cpu_supports("avx512dq"), "avx512dq");
#endif
#endif
  return missing;
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
