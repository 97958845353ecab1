// Fused LSTM and GRU step kernels: one vectorized pass over memory each way, rows of the batch
// cut into blocks of the hidden dimension and spread over the kernel threads.
#include "recurrent_cells.hpp"

#include <algorithm>
#include <cstdint>

#include "parallel.hpp"
#include "simd.hpp"

namespace tapeloop::kernels {
namespace {

// `count` consecutive elements of a row: a full batch, or the masked tail of the row.
template <class T>
struct Lanes {
  std::int64_t count;

  bool full() const { return count == lanes<T>; }
  Vec<T> load(const T* p) const {
    return full() ? Vec<T>::load_unaligned(p) : load_tail(p, count, T(0));
  }
  void store(const Vec<T>& v, T* p) const {
    if (full()) {
      v.store_unaligned(p);
    } else {
      store_tail(v, p, count);
    }
  }
  void add_to(const Vec<T>& v, T* p) const { store(load(p) + v, p); }
};

// Elements of a row handled as one parallel item: 8 AVX2 batches of float, a cache line
// multiple, so two threads never write the same line of a row.
constexpr std::int64_t block = 64;

// Work per element for the grain decision (kernels::cost units: a streaming add is 1).
// Forward: three sigmoids, two tanh and a few multiplies; backward: streaming arithmetic
// over about ten arrays.
constexpr std::int64_t lstm_forward_cost = 3 * cost::sigmoid + 2 * cost::tanh + 2;
constexpr std::int64_t gru_forward_cost = 2 * cost::sigmoid + cost::tanh + 2;
constexpr std::int64_t cell_backward_cost = 8;

// Calls body(row, j, lanes) over every batch of every row of a [batch, hidden] grid. Each
// element's result depends only on its own inputs, so the split cannot change any number.
template <class T, class Body>
void for_cells(std::int64_t batch, std::int64_t hidden, std::int64_t cost, Body body) {
  const std::int64_t blocks = (hidden + block - 1) / block;
  parallel_for(batch * blocks, block * cost, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t item = begin; item < end; ++item) {
      const std::int64_t row = item / blocks;
      const std::int64_t j0 = (item % blocks) * block;
      const std::int64_t j1 = std::min(hidden, j0 + block);
      for (std::int64_t j = j0; j < j1; j += lanes<T>) {
        body(row, j, Lanes<T>{std::min(lanes<T>, j1 - j)});
      }
    }
  });
}

}  // namespace

template <class T>
void rnn_cell_forward(RnnActivation act, const T* gi, const T* gh, T* h, std::int64_t n) {
  using V = Vec<T>;
  const std::int64_t cost = act == RnnActivation::tanh ? cost::tanh + 1 : 2;
  parallel_elements(n, cost, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t j = begin; j < end; j += lanes<T>) {
      const Lanes<T> m{std::min(lanes<T>, end - j)};
      const V x = gh ? m.load(gi + j) + m.load(gh + j) : m.load(gi + j);
      m.store(act == RnnActivation::tanh ? vtanh(x) : xsimd::max(x, V(T(0))), h + j);
    }
  });
}

template <class T>
void rnn_cell_backward(RnnActivation act, const T* dh, const T* h, T* dgi, T* dgh, std::int64_t n) {
  using V = Vec<T>;
  const V zero(T(0)), one(T(1));
  parallel_elements(n, 2, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t j = begin; j < end; j += lanes<T>) {
      const Lanes<T> m{std::min(lanes<T>, end - j)};
      const V y = m.load(h + j), g = m.load(dh + j);
      // Written with the output: tanh' = 1 - y^2; relu passes g where y > 0.
      const V d = act == RnnActivation::tanh ? g * (one - y * y) : xsimd::select(y > zero, g, zero);
      if (dgi) m.add_to(d, dgi + j);
      if (dgh) m.add_to(d, dgh + j);
    }
  });
}

template <class T>
void lstm_cell_forward(const T* gi, const T* gh, const T* c_prev, T* h, T* c, T* saved,
                       std::int64_t batch, std::int64_t H) {
  using V = Vec<T>;
  for_cells<T>(batch, H, lstm_forward_cost, [&](std::int64_t b, std::int64_t j, Lanes<T> m) {
    const T* xi = gi + b * 4 * H + j;
    const T* xh = gh ? gh + b * 4 * H + j : nullptr;
    auto gate = [&](std::int64_t k) {
      return xh ? m.load(xi + k * H) + m.load(xh + k * H) : m.load(xi + k * H);
    };
    const V i = vsigmoid(gate(0));
    const V f = vsigmoid(gate(1));
    const V g = vtanh(gate(2));
    const V o = vsigmoid(gate(3));
    const std::int64_t k = b * H + j;
    const V cn = f * m.load(c_prev + k) + i * g;
    const V tc = vtanh(cn);
    m.store(cn, c + k);
    m.store(o * tc, h + k);
    if (saved) {
      T* s = saved + b * lstm_saved_per_row * H + j;
      m.store(i, s);
      m.store(f, s + H);
      m.store(g, s + 2 * H);
      m.store(o, s + 3 * H);
      m.store(tc, s + 4 * H);
    }
  });
}

template <class T>
void lstm_cell_backward(const T* dh, const T* dc, const T* saved, const T* c_prev, T* dgates,
                        T* dgates2, T* dc_prev, std::int64_t batch, std::int64_t H) {
  using V = Vec<T>;
  const V one(T(1));
  for_cells<T>(batch, H, cell_backward_cost, [&](std::int64_t b, std::int64_t j, Lanes<T> m) {
    const T* s = saved + b * lstm_saved_per_row * H + j;
    const V i = m.load(s), f = m.load(s + H), g = m.load(s + 2 * H), o = m.load(s + 3 * H);
    const V tc = m.load(s + 4 * H);
    const std::int64_t k = b * H + j;
    const V gh = m.load(dh + k);
    // c reaches the output directly and through h = o tanh(c).
    const V dcn = m.load(dc + k) + gh * o * (one - tc * tc);
    if (dgates || dgates2) {
      const V di = dcn * g * i * (one - i);
      const V df = dcn * m.load(c_prev + k) * f * (one - f);
      const V dg = dcn * i * (one - g * g);
      const V dout = gh * tc * o * (one - o);
      for (T* d : {dgates, dgates2}) {
        if (!d) continue;
        T* row = d + b * 4 * H + j;
        m.add_to(di, row);
        m.add_to(df, row + H);
        m.add_to(dg, row + 2 * H);
        m.add_to(dout, row + 3 * H);
      }
    }
    if (dc_prev) m.add_to(dcn * f, dc_prev + k);
  });
}

template <class T>
void gru_cell_forward(const T* gi, const T* gh, const T* h_prev, T* h, T* saved, std::int64_t batch,
                      std::int64_t H) {
  using V = Vec<T>;
  const V one(T(1));
  for_cells<T>(batch, H, gru_forward_cost, [&](std::int64_t b, std::int64_t j, Lanes<T> m) {
    const T* xi = gi + b * 3 * H + j;
    const T* xh = gh + b * 3 * H + j;
    const V r = vsigmoid(m.load(xi) + m.load(xh));
    const V z = vsigmoid(m.load(xi + H) + m.load(xh + H));
    const V n = vtanh(m.load(xi + 2 * H) + r * m.load(xh + 2 * H));
    const std::int64_t k = b * H + j;
    m.store((one - z) * n + z * m.load(h_prev + k), h + k);
    if (saved) {
      T* s = saved + b * gru_saved_per_row * H + j;
      m.store(r, s);
      m.store(z, s + H);
      m.store(n, s + 2 * H);
    }
  });
}

template <class T>
void gru_cell_backward(const T* dh, const T* saved, const T* gh, const T* h_prev, T* dgi, T* dgh,
                       T* dh_prev, std::int64_t batch, std::int64_t H) {
  using V = Vec<T>;
  const V one(T(1));
  for_cells<T>(batch, H, cell_backward_cost, [&](std::int64_t b, std::int64_t j, Lanes<T> m) {
    const T* s = saved + b * gru_saved_per_row * H + j;
    const V r = m.load(s), z = m.load(s + H), n = m.load(s + 2 * H);
    const std::int64_t k = b * H + j;
    const V g = m.load(dh + k);
    const V dn = g * (one - z) * (one - n * n);                 // through tanh
    const V dz = g * (m.load(h_prev + k) - n) * z * (one - z);  // through the sigmoid
    const V dr = dn * m.load(gh + b * 3 * H + 2 * H + j) * r * (one - r);
    // gi and gh feed r and z identically; only n sees gh through r.
    if (dgi) {
      T* row = dgi + b * 3 * H + j;
      m.add_to(dr, row);
      m.add_to(dz, row + H);
      m.add_to(dn, row + 2 * H);
    }
    if (dgh) {
      T* row = dgh + b * 3 * H + j;
      m.add_to(dr, row);
      m.add_to(dz, row + H);
      m.add_to(dn * r, row + 2 * H);
    }
    if (dh_prev) m.add_to(g * z, dh_prev + k);
  });
}

#define TAPELOOP_INSTANTIATE(T)                                                             \
  template void rnn_cell_forward(RnnActivation, const T*, const T*, T*, std::int64_t);      \
  template void rnn_cell_backward(RnnActivation, const T*, const T*, T*, T*, std::int64_t); \
  template void lstm_cell_forward(const T*, const T*, const T*, T*, T*, T*, std::int64_t,   \
                                  std::int64_t);                                            \
  template void lstm_cell_backward(const T*, const T*, const T*, const T*, T*, T*, T*,      \
                                   std::int64_t, std::int64_t);                             \
  template void gru_cell_forward(const T*, const T*, const T*, T*, T*, std::int64_t,        \
                                 std::int64_t);                                             \
  template void gru_cell_backward(const T*, const T*, const T*, const T*, T*, T*, T*,       \
                                  std::int64_t, std::int64_t);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::kernels
