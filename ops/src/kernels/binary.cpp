// Binary arithmetic kernels: a flat vector loop for equal shapes, rows of the collapsed
// broadcast otherwise; backward rules add into dense gradients directly and sum broadcast ones
// down with the deterministic reduction of reduce.cpp.
#include <cstdint>

#include "elementwise.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "simd.hpp"

namespace tapeloop::kernels {

Broadcast plan_broadcast(const Shape& out, const Shape& a, const Shape& b) {
  Broadcast p;
  p.numel = out.numel();
  p.broadcast_a = a.numel() < p.numel;
  p.broadcast_b = b.numel() < p.numel;
  p.same = !p.broadcast_a && !p.broadcast_b;
  if (p.same) {  // equal element counts: the flat indices coincide (shapes may differ by 1s)
    p.rank = 1;
    p.dims[0] = p.numel;
    p.stride_a[0] = p.stride_b[0] = 1;
    return p;
  }
  const int offset_a = out.rank() - a.rank();
  const int offset_b = out.rank() - b.rank();
  // Walk the output axes from the last; drop size-1 axes; merge an axis into the one after it
  // when, for both operands, stepping it equals stepping the merged axis (both broadcast, or
  // both contiguous with it).
  int r = 0;
  std::array<std::int64_t, Shape::max_rank> d{}, sa{}, sb{};  // innermost first while building
  for (int axis = out.rank() - 1; axis >= 0; --axis) {
    const std::int64_t n = out[axis];
    if (n == 1) continue;
    const int ia = axis - offset_a;
    const int ib = axis - offset_b;
    const std::int64_t step_a = (ia >= 0 && a[ia] != 1) ? a.stride(ia) : 0;
    const std::int64_t step_b = (ib >= 0 && b[ib] != 1) ? b.stride(ib) : 0;
    if (r > 0) {
      const auto q = static_cast<std::size_t>(r - 1);
      if (step_a == sa[q] * d[q] && step_b == sb[q] * d[q]) {
        d[q] *= n;
        continue;
      }
    }
    const auto q = static_cast<std::size_t>(r++);
    d[q] = n;
    sa[q] = step_a;
    sb[q] = step_b;
  }
  p.rank = r;
  for (int i = 0; i < r; ++i) {
    const auto src = static_cast<std::size_t>(r - 1 - i);
    const auto dst = static_cast<std::size_t>(i);
    p.dims[dst] = d[src];
    p.stride_a[dst] = sa[src];
    p.stride_b[dst] = sb[src];
  }
  return p;
}

namespace {

template <class T>
struct Add {
  using V = Vec<T>;
  V operator()(const V& a, const V& b) const { return a + b; }
};
template <class T>
struct Sub {
  using V = Vec<T>;
  V operator()(const V& a, const V& b) const { return a - b; }
};
template <class T>
struct Mul {
  using V = Vec<T>;
  V operator()(const V& a, const V& b) const { return a * b; }
};
template <class T>
struct Div {
  using V = Vec<T>;
  V operator()(const V& a, const V& b) const { return a / b; }
};

// A batch of p starting at i, or p[0] in every lane when the operand is broadcast along the
// row (stride 0); the tail pads with 1 so a division in unused lanes stays finite.
template <class T, bool Dense>
Vec<T> load(const T* p, std::int64_t i) {
  if constexpr (Dense) {
    return Vec<T>::load_unaligned(p + i);
  } else {
    return Vec<T>(p[0]);
  }
}
template <class T, bool Dense>
Vec<T> load_r(const T* p, std::int64_t i, std::int64_t r) {
  if constexpr (Dense) {
    return load_tail(p + i, r);
  } else {
    return Vec<T>(p[0]);
  }
}

// Calls row(i, ia, ib, len) for the output range [begin, end) of the plan cut into runs along
// its last axis; ia and ib are where a and b start for that run.
template <class Row>
void for_rows(const Broadcast& p, std::int64_t begin, std::int64_t end, Row row) {
  const int last = p.rank - 1;
  const std::int64_t inner = p.dims[static_cast<std::size_t>(last)];
  // Position of `begin` in every axis (an odometer started mid-way).
  std::array<std::int64_t, Shape::max_rank> index{};
  std::int64_t rest = begin;
  for (int axis = last; axis >= 0; --axis) {
    const auto ax = static_cast<std::size_t>(axis);
    index[ax] = rest % p.dims[ax];
    rest /= p.dims[ax];
  }
  std::int64_t ia = 0, ib = 0;
  for (int axis = 0; axis <= last; ++axis) {
    const auto ax = static_cast<std::size_t>(axis);
    ia += index[ax] * p.stride_a[ax];
    ib += index[ax] * p.stride_b[ax];
  }
  const auto lx = static_cast<std::size_t>(last);
  std::int64_t i = begin;
  while (i < end) {
    const std::int64_t len = std::min(inner - index[lx], end - i);
    row(i, ia, ib, len);
    i += len;
    ia += len * p.stride_a[lx];
    ib += len * p.stride_b[lx];
    index[lx] += len;
    if (index[lx] < inner) break;  // only the last run of a chunk can stop mid-row
    ia -= inner * p.stride_a[lx];
    ib -= inner * p.stride_b[lx];
    index[lx] = 0;
    for (int axis = last - 1; axis >= 0; --axis) {
      const auto ax = static_cast<std::size_t>(axis);
      ia += p.stride_a[ax];
      ib += p.stride_b[ax];
      if (++index[ax] < p.dims[ax]) break;
      ia -= p.stride_a[ax] * p.dims[ax];
      ib -= p.stride_b[ax] * p.dims[ax];
      index[ax] = 0;
    }
  }
}

// y[0..n) = op(a, b) with a and b dense or broadcast along the run.
template <class T, bool DA, bool DB, class Op>
void forward_run(const Op& op, const T* a, const T* b, T* y, std::int64_t n) {
  for_batches<T>(
      n, [&](std::int64_t i) { op(load<T, DA>(a, i), load<T, DB>(b, i)).store_unaligned(y + i); },
      [&](std::int64_t i, std::int64_t r) {
        store_tail(op(load_r<T, DA>(a, i, r), load_r<T, DB>(b, i, r)), y + i, r);
      });
}

// Over n elements: flat when pp is null (equal shapes), else over the rows of the plan *pp.
template <class T, class Op>
void forward(const Op& op, std::int64_t n, const Broadcast* pp, const T* a, const T* b, T* y) {
  parallel_elements(n, cost::streaming, [&](std::int64_t begin, std::int64_t end) {
    if (pp == nullptr) {
      forward_run<T, true, true>(op, a + begin, b + begin, y + begin, end - begin);
      return;
    }
    const Broadcast& p = *pp;
    const auto lx = static_cast<std::size_t>(p.rank - 1);
    const bool da = p.stride_a[lx] != 0, db = p.stride_b[lx] != 0;
    for_rows(p, begin, end, [&](std::int64_t i, std::int64_t ia, std::int64_t ib, std::int64_t n) {
      if (da && db) forward_run<T, true, true>(op, a + ia, b + ib, y + i, n);
      if (da && !db) forward_run<T, true, false>(op, a + ia, b + ib, y + i, n);
      if (!da && db) forward_run<T, false, true>(op, a + ia, b + ib, y + i, n);
    });
  });
}

// The per-element backward terms, t(g, a, b, y).
enum class Term { g, neg_g, g_times_b, g_times_a, g_over_b, neg_g_y_over_b };

Term term_of(Binary f, Operand which) {
  const bool is_a = which == Operand::a;
  switch (f) {
    case Binary::add:
      return Term::g;
    case Binary::sub:
      return is_a ? Term::g : Term::neg_g;
    case Binary::mul:
      return is_a ? Term::g_times_b : Term::g_times_a;
    case Binary::div:
      return is_a ? Term::g_over_b : Term::neg_g_y_over_b;
  }
  return Term::g;
}

template <class T, Term K>
Vec<T> term(const Vec<T>& g, const Vec<T>& a, const Vec<T>& b, const Vec<T>& y) {
  if constexpr (K == Term::g) return g;
  if constexpr (K == Term::neg_g) return -g;
  if constexpr (K == Term::g_times_b) return g * b;
  if constexpr (K == Term::g_times_a) return g * a;
  if constexpr (K == Term::g_over_b) return g / b;
  if constexpr (K == Term::neg_g_y_over_b) return -g * y / b;  // d(a/b)/db = -(a/b)/b
}

// d[0..n) (+)= term over a run; d is dense (the output's shape). Accumulate: d += term, else
// d = term (filling scratch that is summed down afterwards).
template <class T, Term K, bool DA, bool DB, bool Accumulate>
void backward_run(const T* g, const T* a, const T* b, const T* y, T* d, std::int64_t n) {
  using V = Vec<T>;
  constexpr bool reads_a = K == Term::g_times_a;
  constexpr bool reads_b = K == Term::g_times_b || K == Term::g_over_b || K == Term::neg_g_y_over_b;
  constexpr bool reads_y = K == Term::neg_g_y_over_b;
  for_batches<T>(
      n,
      [&](std::int64_t i) {
        const V va = reads_a ? load<T, DA>(a, i) : V(T(0));
        const V vb = reads_b ? load<T, DB>(b, i) : V(T(1));
        const V vy = reads_y ? V::load_unaligned(y + i) : V(T(0));
        V t = term<T, K>(V::load_unaligned(g + i), va, vb, vy);
        if constexpr (Accumulate) t = V::load_unaligned(d + i) + t;
        t.store_unaligned(d + i);
      },
      [&](std::int64_t i, std::int64_t r) {
        const V va = reads_a ? load_r<T, DA>(a, i, r) : V(T(0));
        const V vb = reads_b ? load_r<T, DB>(b, i, r) : V(T(1));
        const V vy = reads_y ? load_tail(y + i, r) : V(T(0));
        V t = term<T, K>(load_tail(g + i, r), va, vb, vy);
        if constexpr (Accumulate) t = load_tail(d + i, r) + t;
        store_tail(t, d + i, r);
      });
}

// d (dense, the output's shape) (+)= term over n elements, flat or over the plan *pp, in
// parallel.
template <class T, Term K, bool Accumulate>
void backward_dense(std::int64_t n, const Broadcast* pp, const T* g, const T* a, const T* b,
                    const T* y, T* d) {
  parallel_elements(n, cost::streaming, [&](std::int64_t begin, std::int64_t end) {
    if (pp == nullptr) {
      backward_run<T, K, true, true, Accumulate>(g + begin, a + begin, b + begin, y + begin,
                                                 d + begin, end - begin);
      return;
    }
    const Broadcast& p = *pp;
    const auto lx = static_cast<std::size_t>(p.rank - 1);
    const bool da = p.stride_a[lx] != 0, db = p.stride_b[lx] != 0;
    for_rows(p, begin, end, [&](std::int64_t i, std::int64_t ia, std::int64_t ib, std::int64_t n) {
      if (da && db)
        backward_run<T, K, true, true, Accumulate>(g + i, a + ia, b + ib, y + i, d + i, n);
      if (da && !db)
        backward_run<T, K, true, false, Accumulate>(g + i, a + ia, b + ib, y + i, d + i, n);
      if (!da && db)
        backward_run<T, K, false, true, Accumulate>(g + i, a + ia, b + ib, y + i, d + i, n);
    });
  });
}

template <class T, Term K>
void backward(Operand which, std::int64_t n, const Broadcast* pp, const T* g, const T* a,
              const T* b, const T* y, T* dst, T* scratch) {
  if (pp == nullptr || !(which == Operand::a ? pp->broadcast_a : pp->broadcast_b)) {
    backward_dense<T, K, true>(n, pp, g, a, b, y, dst);
    return;
  }
  const Broadcast& p = *pp;
  const auto& strides = which == Operand::a ? p.stride_a : p.stride_b;
  // ±g needs no per-element term: sum g itself down to the operand.
  if constexpr (K == Term::g || K == Term::neg_g) {
    sum_broadcast(g, p.rank, p.dims.data(), strides.data(), dst, K == Term::g ? T(1) : T(-1));
  } else {
    backward_dense<T, K, false>(n, pp, g, a, b, y, scratch);
    sum_broadcast(static_cast<const T*>(scratch), p.rank, p.dims.data(), strides.data(), dst, T(1));
  }
}

}  // namespace

bool binary_backward_scratch(Binary f, Operand which, const Broadcast& plan) {
  const bool broadcast = which == Operand::a ? plan.broadcast_a : plan.broadcast_b;
  const Term k = term_of(f, which);
  return broadcast && k != Term::g && k != Term::neg_g;
}

namespace {

template <class T>
void forward_any(Binary f, std::int64_t n, const Broadcast* pp, const T* a, const T* b, T* y) {
  if (n == 0) return;
  switch (f) {
    case Binary::add:
      return forward(Add<T>{}, n, pp, a, b, y);
    case Binary::sub:
      return forward(Sub<T>{}, n, pp, a, b, y);
    case Binary::mul:
      return forward(Mul<T>{}, n, pp, a, b, y);
    case Binary::div:
      return forward(Div<T>{}, n, pp, a, b, y);
  }
}

template <class T>
void backward_any(Binary f, Operand which, std::int64_t n, const Broadcast* pp, const T* g,
                  const T* a, const T* b, const T* y, T* dst, T* scratch) {
  if (n == 0) return;
  switch (term_of(f, which)) {
    case Term::g:
      return backward<T, Term::g>(which, n, pp, g, a, b, y, dst, scratch);
    case Term::neg_g:
      return backward<T, Term::neg_g>(which, n, pp, g, a, b, y, dst, scratch);
    case Term::g_times_b:
      return backward<T, Term::g_times_b>(which, n, pp, g, a, b, y, dst, scratch);
    case Term::g_times_a:
      return backward<T, Term::g_times_a>(which, n, pp, g, a, b, y, dst, scratch);
    case Term::g_over_b:
      return backward<T, Term::g_over_b>(which, n, pp, g, a, b, y, dst, scratch);
    case Term::neg_g_y_over_b:
      return backward<T, Term::neg_g_y_over_b>(which, n, pp, g, a, b, y, dst, scratch);
  }
}

// Fewer elements than one batch (a one-element operator): the run kernel called directly,
// without the parallel splitter and the broadcast dispatch in between, which cost more than the
// arithmetic. It is the same loop code, so results are bit for bit those of the general path.
template <class T>
void binary_small(Binary f, const T* a, const T* b, T* y, std::int64_t n) {
  switch (f) {
    case Binary::add:
      return forward_run<T, true, true>(Add<T>{}, a, b, y, n);
    case Binary::sub:
      return forward_run<T, true, true>(Sub<T>{}, a, b, y, n);
    case Binary::mul:
      return forward_run<T, true, true>(Mul<T>{}, a, b, y, n);
    case Binary::div:
      return forward_run<T, true, true>(Div<T>{}, a, b, y, n);
  }
}

template <class T>
void binary_backward_small(Binary f, Operand which, const T* g, const T* a, const T* b, const T* y,
                           T* dst, std::int64_t n) {
  switch (term_of(f, which)) {
    case Term::g:
      return backward_run<T, Term::g, true, true, true>(g, a, b, y, dst, n);
    case Term::neg_g:
      return backward_run<T, Term::neg_g, true, true, true>(g, a, b, y, dst, n);
    case Term::g_times_b:
      return backward_run<T, Term::g_times_b, true, true, true>(g, a, b, y, dst, n);
    case Term::g_times_a:
      return backward_run<T, Term::g_times_a, true, true, true>(g, a, b, y, dst, n);
    case Term::g_over_b:
      return backward_run<T, Term::g_over_b, true, true, true>(g, a, b, y, dst, n);
    case Term::neg_g_y_over_b:
      return backward_run<T, Term::neg_g_y_over_b, true, true, true>(g, a, b, y, dst, n);
  }
}

}  // namespace

template <class T>
void binary(Binary f, const Broadcast& plan, const T* a, const T* b, T* y) {
  forward_any(f, plan.numel, plan.same ? nullptr : &plan, a, b, y);
}

template <class T>
void binary(Binary f, const T* a, const T* b, T* y, std::int64_t n) {
  if (n < lanes<T>) return binary_small(f, a, b, y, n);
  forward_any<T>(f, n, nullptr, a, b, y);
}

template <class T>
void binary_backward(Binary f, Operand which, const Broadcast& plan, const T* g, const T* a,
                     const T* b, const T* y, T* dst, T* scratch) {
  backward_any(f, which, plan.numel, plan.same ? nullptr : &plan, g, a, b, y, dst, scratch);
}

template <class T>
void binary_backward(Binary f, Operand which, const T* g, const T* a, const T* b, const T* y,
                     T* dst, std::int64_t n) {
  if (n < lanes<T>) return binary_backward_small(f, which, g, a, b, y, dst, n);
  backward_any<T>(f, which, n, nullptr, g, a, b, y, dst, nullptr);
}

#define TAPELOOP_INSTANTIATE(T)                                                                 \
  template void binary<T>(Binary, const Broadcast&, const T*, const T*, T*);                    \
  template void binary<T>(Binary, const T*, const T*, T*, std::int64_t);                        \
  template void binary_backward<T>(Binary, Operand, const T*, const T*, const T*, const T*, T*, \
                                   std::int64_t);                                               \
  template void binary_backward<T>(Binary, Operand, const Broadcast&, const T*, const T*,       \
                                   const T*, const T*, T*, T*);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::kernels
