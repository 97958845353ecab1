// What this build of tapeloop computes with: the instruction set of its kernels and the BLAS
// kernels in use. Benchmark reports print both next to their numbers.
#pragma once

#include <string>

namespace tapeloop {

/// The instruction set the kernels were compiled for and their width, e.g. "avx2+fma, 256-bit".
std::string kernel_isa();

/// Whether this CPU can run the kernels (false only when the library was built for a newer
/// instruction set than the CPU has; calling an operator would then stop with SIGILL).
bool kernel_isa_supported();

/// The BLAS behind large matrix products and its kernel set for this CPU, e.g.
/// "OpenBLAS 0.3.21, Haswell kernels" (OpenBLAS picks them at run time: openblas_get_corename).
std::string blas_info();

}  // namespace tapeloop
