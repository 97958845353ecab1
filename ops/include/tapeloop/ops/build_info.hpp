// What this build of tapeloop computes with: the instruction set of its kernels and the BLAS
// kernels in use. Benchmark reports print both next to their numbers.
#pragma once

#include <string>

namespace tapeloop {

/// The instruction set the kernels were compiled for and their width, e.g. "avx2+fma, 256-bit".
std::string kernel_isa();

/// The instruction-set extensions this build was compiled for and this CPU lacks, e.g.
/// "avx512f avx512vl" for a native build from an AVX-512 machine run on an AVX2 one; empty when
/// the CPU runs the build. Check it before the first operator: a missing extension would
/// otherwise stop the program with SIGILL.
std::string missing_cpu_features();

/// The BLAS behind large matrix products and its kernel set for this CPU, e.g.
/// "OpenBLAS 0.3.21, Haswell kernels" (OpenBLAS picks them at run time: openblas_get_corename).
std::string blas_info();

}  // namespace tapeloop
