// SIMD building blocks for the kernels: the batch type, loops with a masked tail, and the vector
// math functions (exp, log, tanh, sigmoid) with their measured accuracy.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its own uninitialized-use
// warnings then flag inside the header (GCC bug 105593, fixed in GCC 13): silenced for the
// header's lines only.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop
#else
#include <xsimd/xsimd.hpp>
#endif

namespace tapeloop::kernels {

// The instruction set of the kernels. On x86-64 with AVX2 and FMA it is 256 bits wide also when
// the CPU has AVX-512: every kernel then runs the same instructions, in the same order, on both
// kinds of machine, so results are bit-identical between them (sums are trees over the lanes),
// the code measured and tested on one kind is the code that runs on the other, and a build
// for x86-64-v3 loses nothing against -march=native. TAPELOOP_SIMD_WIDTH=512 (CMake) opts into
// 512-bit kernels on AVX-512 builds; docs/kernels.md has the reasons and the numbers.
#if defined(TAPELOOP_SIMD_512) && defined(__AVX512F__)
using KernelArch = xsimd::default_arch;
#elif defined(__AVX2__) && defined(__FMA__)
using KernelArch = xsimd::fma3<xsimd::avx2>;
#else
using KernelArch = xsimd::default_arch;
#endif

/// The kernels' batch: 8 floats or 4 doubles with AVX2, 16 or 8 with 512-bit kernels.
template <class T>
using Vec = xsimd::batch<T, KernelArch>;

template <class T>
inline constexpr std::int64_t lanes = static_cast<std::int64_t>(Vec<T>::size);

/// Calls `body(i)` for i = 0, L, 2L, ... over the full batches of [0, n), then `tail(i, r)` once
/// for the r < L elements left. Kernels run their tail through the same vector code, loaded and
/// stored with masks (load_tail/store_tail), so an element's result never depends on where it
/// sits in the tensor, nor on how a parallel kernel cut the tensor into chunks.
template <class T, class Body, class Tail>
inline void for_batches(std::int64_t n, Body body, Tail tail) {
  constexpr std::int64_t L = lanes<T>;
  std::int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {  // two batches per trip: two independent chains
    body(i);
    body(i + L);
  }
  if (i + L <= n) {
    body(i);
    i += L;
  }
  if (i < n) tail(i, n - i);
}

// Masked loads and stores of the first r < L lanes, one instruction whatever L is: masked
// lanes are never read or written, so a tail never touches memory past the end of an array
// (and never faults). AVX-512 (16 floats or 8 doubles, and 256-bit batches where AVX-512VL is
// there) uses a mask register; AVX2 a vector mask (vmaskmov). Only builds with neither (SSE,
// other CPUs) go through a small stack buffer.
namespace detail {

template <class T>
inline constexpr int batch_bytes = static_cast<int>(sizeof(T) * Vec<T>::size);

#if defined(__AVX2__)
// Lane k set when k < r, for vmaskmov.
template <class T>
inline __m256i tail_mask(std::int64_t r) {
  if constexpr (std::is_same_v<T, float>) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  } else {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(r), _mm256_setr_epi64x(0, 1, 2, 3));
  }
}
#endif

#if defined(__AVX512F__)
// Bit k set when k < r (r < 16), for the AVX-512 masked moves.
inline unsigned bit_mask(std::int64_t r) {
  return (1u << static_cast<unsigned>(r)) - 1u;
}
#endif

}  // namespace detail

/// A batch holding p[0..r) and `pad` in the other lanes (0 <= r < lanes).
template <class T>
inline Vec<T> load_tail(const T* p, std::int64_t r, T pad = T(1)) {
  constexpr bool is_float = std::is_same_v<T, float>;
#if defined(__AVX512F__)
  if constexpr (detail::batch_bytes<T> == 64) {
    if constexpr (is_float) {
      return Vec<T>(_mm512_mask_loadu_ps(_mm512_set1_ps(pad),
                                         static_cast<__mmask16>(detail::bit_mask(r)), p));
    } else {
      return Vec<T>(
          _mm512_mask_loadu_pd(_mm512_set1_pd(pad), static_cast<__mmask8>(detail::bit_mask(r)), p));
    }
  }
#endif
#if defined(__AVX512F__) && defined(__AVX512VL__)
  if constexpr (detail::batch_bytes<T> == 32) {
    const auto m = static_cast<__mmask8>(detail::bit_mask(r));
    if constexpr (is_float) {
      return Vec<T>(_mm256_mask_loadu_ps(_mm256_set1_ps(pad), m, p));
    } else {
      return Vec<T>(_mm256_mask_loadu_pd(_mm256_set1_pd(pad), m, p));
    }
  }
#elif defined(__AVX2__)
  if constexpr (detail::batch_bytes<T> == 32) {
    const __m256i m = detail::tail_mask<T>(r);
    if constexpr (is_float) {
      return Vec<T>(
          _mm256_blendv_ps(_mm256_set1_ps(pad), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)));
    } else {
      return Vec<T>(
          _mm256_blendv_pd(_mm256_set1_pd(pad), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m)));
    }
  }
#endif
  alignas(64) T buf[Vec<T>::size];
  for (std::int64_t k = 0; k < lanes<T>; ++k) buf[k] = k < r ? p[k] : pad;
  return Vec<T>::load_aligned(buf);
}

/// Stores the first r lanes of v to p (0 <= r < lanes).
template <class T>
inline void store_tail(const Vec<T>& v, T* p, std::int64_t r) {
  constexpr bool is_float = std::is_same_v<T, float>;
#if defined(__AVX512F__)
  if constexpr (detail::batch_bytes<T> == 64) {
    if constexpr (is_float) {
      _mm512_mask_storeu_ps(p, static_cast<__mmask16>(detail::bit_mask(r)), v);
    } else {
      _mm512_mask_storeu_pd(p, static_cast<__mmask8>(detail::bit_mask(r)), v);
    }
    return;
  }
#endif
#if defined(__AVX512F__) && defined(__AVX512VL__)
  if constexpr (detail::batch_bytes<T> == 32) {
    const auto m = static_cast<__mmask8>(detail::bit_mask(r));
    if constexpr (is_float) {
      _mm256_mask_storeu_ps(p, m, v);
    } else {
      _mm256_mask_storeu_pd(p, m, v);
    }
    return;
  }
#elif defined(__AVX2__)
  if constexpr (detail::batch_bytes<T> == 32) {
    // One lane (a one-element tensor) is a plain scalar store: on AMD Zen 3 a vmaskmov store is
    // microcoded and costs ~10 ns, as much as the rest of a one-element kernel.
    if (r == 1) {
      if constexpr (is_float) {
        _mm_store_ss(p, _mm256_castps256_ps128(v));
      } else {
        _mm_store_sd(p, _mm256_castpd256_pd128(v));
      }
      return;
    }
    if constexpr (is_float) {
      _mm256_maskstore_ps(p, detail::tail_mask<T>(r), v);
    } else {
      _mm256_maskstore_pd(p, detail::tail_mask<T>(r), v);
    }
    return;
  }
#endif
  alignas(64) T buf[Vec<T>::size];
  v.store_aligned(buf);
  for (std::int64_t k = 0; k < r; ++k) p[k] = buf[k];
}

// ---- vector math ----------------------------------------------------------------------------
// Accuracy against long double over a sweep of the whole input range: the bounds that
// tests/test_kernels.cpp asserts (float / double; the measured maxima are in docs/kernels.md):
//   vexp     1.5 / 1.0 ulp — including the overflow edge and subnormal results
//   vlog     1.0 / 1.0 ulp (xsimd::log)
//   vtanh    1.5 / 1.5 ulp (xsimd::tanh; glibc's tanhf is 2.1 ulp)
//   vsigmoid 2.5 / 2.5 ulp
// xsimd 8.1's own exp returns inf for float x in (88.376, 88.723) where e^x is still finite,
// and flushes results below the smallest normal number to 0; vexp below does neither.

namespace detail {

// 2^k for integral k with k + bias in [1, 2 * bias], built from the exponent bits. k + bias is
// placed in the low mantissa bits by adding 1.5 * 2^mantissa (exact for such small integers)
// and shifted into the exponent field: no float-to-int conversion, which AVX2 lacks for
// doubles (xsimd emulates it lane by lane, which made exp(double) 40% slower and kept two
// threads from scaling).
template <class T>
inline Vec<T> pow2i(const Vec<T>& k) {
  using I = std::conditional_t<std::is_same_v<T, float>, std::int32_t, std::int64_t>;
  constexpr int mantissa = std::numeric_limits<T>::digits - 1;
  constexpr T bias = T(std::numeric_limits<T>::max_exponent - 1);
  constexpr T magic = T(1.5) * T(I{1} << mantissa);
  const auto bits = xsimd::bitwise_cast<xsimd::batch<I, KernelArch>>(k + Vec<T>(bias + magic));
  return xsimd::bitwise_cast<Vec<T>>(bits << mantissa);
}

}  // namespace detail

/// e^x within 1.5 ulp (float) and 1.0 ulp (double): x = k ln2 + r with |r| <= ln2/2 (Cody-Waite,
/// two-part ln2), e^r by a polynomial, then 2^k applied as two halves so that results near the
/// overflow threshold and in the subnormal range are exact powers of two times e^r, rounded once.
template <class T>
inline Vec<T> vexp(const Vec<T>& x) {
  using V = Vec<T>;
  // Beyond these e^x is inf or rounds to 0; clamping keeps k within the exponent range.
  constexpr T hi = std::is_same_v<T, float> ? T(89.0) : T(710.0);
  constexpr T lo = std::is_same_v<T, float> ? T(-104.0) : T(-746.0);
  const V xc = xsimd::min(xsimd::max(x, V(lo)), V(hi));
  const V k = xsimd::nearbyint(xc * V(T(1.44269504088896340736)));  // x / ln2
  V r;
  V p;
  if constexpr (std::is_same_v<T, float>) {
    r = xsimd::fnma(k, V(0.693359375f), xc);  // ln2 high part: 9 bits, k * it is exact
    r = xsimd::fnma(k, V(-2.12194440e-4f), r);
    // e^r = 1 + r + r^2 (1/2 + r/6 + ...): minimax coefficients (Cephes expf).
    V q = V(1.3997796e-3f);
    q = xsimd::fma(q, r, V(8.3955629e-3f));
    q = xsimd::fma(q, r, V(4.1665401e-2f));
    q = xsimd::fma(q, r, V(1.6666277e-1f));
    q = xsimd::fma(q, r, V(5.0000000e-1f));
    p = xsimd::fma(q, r * r, r) + V(1.0f);
  } else {
    r = xsimd::fnma(k, V(6.93145751953125e-1), xc);  // ln2 split as in Cephes exp
    r = xsimd::fnma(k, V(1.42860682030941723212e-6), r);
    // Taylor series to r^13: the truncation error is below 5e-18 for |r| <= ln2/2.
    V q = V(1.0 / 6227020800.0);
    q = xsimd::fma(q, r, V(1.0 / 479001600.0));
    q = xsimd::fma(q, r, V(1.0 / 39916800.0));
    q = xsimd::fma(q, r, V(1.0 / 3628800.0));
    q = xsimd::fma(q, r, V(1.0 / 362880.0));
    q = xsimd::fma(q, r, V(1.0 / 40320.0));
    q = xsimd::fma(q, r, V(1.0 / 5040.0));
    q = xsimd::fma(q, r, V(1.0 / 720.0));
    q = xsimd::fma(q, r, V(1.0 / 120.0));
    q = xsimd::fma(q, r, V(1.0 / 24.0));
    q = xsimd::fma(q, r, V(1.0 / 6.0));
    q = xsimd::fma(q, r, V(0.5));
    p = xsimd::fma(q, r * r, r) + V(1.0);
  }
  // 2^k as 2^(k/2) * 2^(k - k/2): each half is a normal number for every k the clamp allows.
  const V k1 = xsimd::floor(k * V(T(0.5)));
  const V y = (p * detail::pow2i<T>(k1)) * detail::pow2i<T>(k - k1);
  return xsimd::select(xsimd::isnan(x), x, y);
}

/// Natural logarithm (xsimd::log): log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
template <class T>
inline Vec<T> vlog(const Vec<T>& x) {
  return xsimd::log(x);
}

/// Hyperbolic tangent (xsimd::tanh).
template <class T>
inline Vec<T> vtanh(const Vec<T>& x) {
  return xsimd::tanh(x);
}

/// 1 / (1 + e^-x) exponentiating only -|x|, so nothing overflows: with e = e^-|x|,
/// 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, one division for both.
template <class T>
inline Vec<T> vsigmoid(const Vec<T>& x) {
  using V = Vec<T>;
  const V e = vexp(-xsimd::abs(x));
  return xsimd::select(x >= V(T(0)), V(T(1)), e) / (V(T(1)) + e);
}

}  // namespace tapeloop::kernels
