// Unary kernels: each function is a small struct with a vector forward and backward; one loop
// template runs them over batches, in parallel above the grain size.
#include <cstdint>
#include <type_traits>

#include "elementwise.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace tapeloop::kernels {
namespace {

// Each functor: fwd(x) -> y, bwd(g, x, y) -> contribution to gx; reads_x / reads_y say what
// bwd needs, so the backward loop loads nothing else (it is bandwidth-bound); `cost` is the
// work per element for the grain decision.
template <class T>
struct Neg {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  V fwd(const V& x) const { return -x; }
  V bwd(const V& g, const V&, const V&) const { return -g; }
};

template <class T>
struct AddScalar {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  T s;
  V fwd(const V& x) const { return x + V(s); }
  V bwd(const V& g, const V&, const V&) const { return g; }
};

template <class T>
struct MulScalar {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  T s;
  V fwd(const V& x) const { return x * V(s); }
  V bwd(const V& g, const V&, const V&) const { return g * V(s); }
};

template <class T>
struct DivScalar {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  T s;
  // A true division, not x * (1 / s): the same bits as x / s written out.
  V fwd(const V& x) const { return x / V(s); }
  V bwd(const V& g, const V&, const V&) const { return g / V(s); }
};

template <class T>
struct RsubScalar {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  T s;
  V fwd(const V& x) const { return V(s) - x; }
  V bwd(const V& g, const V&, const V&) const { return -g; }
};

template <class T>
struct RdivScalar {
  using V = Vec<T>;
  static constexpr bool reads_x = true, reads_y = true;
  static constexpr std::int64_t cost = cost::streaming;
  T s;
  V fwd(const V& x) const { return V(s) / x; }
  V bwd(const V& g, const V& x, const V& y) const { return -g * y / x; }  // d(s/x) = -y/x
};

template <class T>
struct Exp {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = true;
  static constexpr std::int64_t cost = cost::exp;
  V fwd(const V& x) const { return vexp(x); }
  V bwd(const V& g, const V&, const V& y) const { return g * y; }
};

template <class T>
struct Log {
  using V = Vec<T>;
  static constexpr bool reads_x = true, reads_y = false;
  static constexpr std::int64_t cost = cost::log;
  V fwd(const V& x) const { return vlog(x); }
  V bwd(const V& g, const V& x, const V&) const { return g / x; }
};

template <class T>
struct Sqrt {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = true;
  static constexpr std::int64_t cost = cost::streaming;
  V fwd(const V& x) const { return xsimd::sqrt(x); }
  V bwd(const V& g, const V&, const V& y) const { return g / (V(T(2)) * y); }
};

template <class T>
struct Abs {
  using V = Vec<T>;
  static constexpr bool reads_x = true, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  V fwd(const V& x) const { return xsimd::abs(x); }
  // sign(x) g with sign(0) = 0 (and NaN, whose comparisons are false, gives 0 too).
  V bwd(const V& g, const V& x, const V&) const {
    const V zero(T(0));
    return xsimd::select(x > zero, g, xsimd::select(x < zero, -g, zero));
  }
};

template <class T>
struct Tanh {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = true;
  static constexpr std::int64_t cost = cost::tanh;
  V fwd(const V& x) const { return vtanh(x); }
  V bwd(const V& g, const V&, const V& y) const { return g * (V(T(1)) - y * y); }
};

template <class T>
struct Sigmoid {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = true;
  static constexpr std::int64_t cost = cost::sigmoid;
  V fwd(const V& x) const { return vsigmoid(x); }
  V bwd(const V& g, const V&, const V& y) const { return g * y * (V(T(1)) - y); }
};

template <class T>
struct Relu {
  using V = Vec<T>;
  static constexpr bool reads_x = false, reads_y = true;
  static constexpr std::int64_t cost = cost::streaming;
  // max(x, 0) with the 0 second: vmaxps returns its second operand when either is NaN, so
  // NaN and -0 give +0, exactly like `x > 0 ? x : 0`.
  V fwd(const V& x) const { return xsimd::max(x, V(T(0))); }
  V bwd(const V& g, const V&, const V& y) const { return xsimd::select(y > V(T(0)), g, V(T(0))); }
};

template <class T>
struct Clamp {
  using V = Vec<T>;
  static constexpr bool reads_x = true, reads_y = false;
  static constexpr std::int64_t cost = cost::streaming;
  T lo, hi;
  // Comparisons rather than min/max so that NaN passes through, as in `v < lo ? lo : ...`.
  V fwd(const V& x) const {
    return xsimd::select(x < V(lo), V(lo), xsimd::select(x > V(hi), V(hi), x));
  }
  V bwd(const V& g, const V& x, const V&) const {
    return xsimd::select((x >= V(lo)) & (x <= V(hi)), g, V(T(0)));
  }
};

// y[0..n) = f(x[0..n)). The tail pads its unused lanes with its first element rather than the
// default 1: they then repeat lane 0's computation, so they raise nothing lane 0 does not, and
// a function with a branch per batch (xsimd::tanh evaluates its exp form whenever any lane is
// >= 0.625) takes the branch of the real elements only. Unused lanes never reach y.
template <class T, class F>
void forward_run(const F& f, const T* x, T* y, std::int64_t n) {
  using V = Vec<T>;
  for_batches<T>(
      n, [&](std::int64_t i) { f.fwd(V::load_unaligned(x + i)).store_unaligned(y + i); },
      [&](std::int64_t i, std::int64_t r) {
        store_tail(f.fwd(load_tail(x + i, r, x[i])), y + i, r);
      });
}

// gx[0..n) += f'(x) g over n elements.
template <class T, class F>
void backward_run(const F& f, const T* g, const T* x, const T* y, T* gx, std::int64_t n) {
  using V = Vec<T>;
  for_batches<T>(
      n,
      [&](std::int64_t i) {
        const V vx = F::reads_x ? V::load_unaligned(x + i) : V(T(0));
        const V vy = F::reads_y ? V::load_unaligned(y + i) : V(T(0));
        (V::load_unaligned(gx + i) + f.bwd(V::load_unaligned(g + i), vx, vy))
            .store_unaligned(gx + i);
      },
      [&](std::int64_t i, std::int64_t r) {
        const V vx = F::reads_x ? load_tail(x + i, r) : V(T(0));
        const V vy = F::reads_y ? load_tail(y + i, r) : V(T(0));
        store_tail(load_tail(gx + i, r) + f.bwd(load_tail(g + i, r), vx, vy), gx + i, r);
      });
}

// The runs above in parallel chunks; fewer elements than one batch (a one-element operator)
// go straight to the run, skipping the splitter. Each element's result is the same either way.
template <class T, class F>
void forward_loop(const F& f, const T* x, T* y, std::int64_t n) {
  if (n < lanes<T>) return forward_run<T>(f, x, y, n);
  parallel_elements(n, F::cost, [&](std::int64_t begin, std::int64_t end) {
    forward_run<T>(f, x + begin, y + begin, end - begin);
  });
}

template <class T, class F>
void backward_loop(const F& f, const T* g, const T* x, const T* y, T* gx, std::int64_t n) {
  if (n < lanes<T>) return backward_run<T>(f, g, x, y, gx, n);
  parallel_elements(n, F::cost, [&](std::int64_t begin, std::int64_t end) {
    backward_run<T>(f, g + begin, x + begin, y + begin, gx + begin, end - begin);
  });
}

// The functor of f with its numbers; functors that take none ignore them.
template <template <class> class F, class T>
F<T> make_functor(T p0, T p1) {
  if constexpr (std::is_constructible_v<F<T>, T, T>) {
    return F<T>{p0, p1};
  } else if constexpr (std::is_constructible_v<F<T>, T>) {
    return F<T>{p0};
  } else {
    return F<T>{};
  }
}

// Calls run(functor) with the functor of f: one switch per call, a specialized loop inside.
template <class T, class Run>
void dispatch(Unary f, T p0, T p1, Run run) {
  switch (f) {
#define TAPELOOP_UNARY_CASE(name, Functor) \
  case Unary::name:                        \
    return run(make_functor<Functor>(p0, p1));
    TAPELOOP_UNARY_PLAIN(TAPELOOP_UNARY_CASE)
    TAPELOOP_UNARY_WITH_NUMBERS(TAPELOOP_UNARY_CASE)
#undef TAPELOOP_UNARY_CASE
  }
}

}  // namespace

template <class T>
void unary(Unary f, const T* x, T* y, std::int64_t n, T p0, T p1) {
  dispatch<T>(f, p0, p1, [&](const auto& fn) { forward_loop<T>(fn, x, y, n); });
}

template <class T>
void unary_backward(Unary f, const T* g, const T* x, const T* y, T* gx, std::int64_t n, T p0,
                    T p1) {
  dispatch<T>(f, p0, p1, [&](const auto& fn) { backward_loop<T>(fn, g, x, y, gx, n); });
}

template void unary<float>(Unary, const float*, float*, std::int64_t, float, float);
template void unary<double>(Unary, const double*, double*, std::int64_t, double, double);
template void unary_backward<float>(Unary, const float*, const float*, const float*, float*,
                                    std::int64_t, float, float);
template void unary_backward<double>(Unary, const double*, const double*, const double*, double*,
                                     std::int64_t, double, double);

}  // namespace tapeloop::kernels
