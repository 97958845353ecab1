// Carry: double-buffered state tensors read as detached leaves and written by copy.
#include "tapeloop/carry.hpp"

#include <algorithm>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop {

template <class T>
Carry<T>::Carry(std::initializer_list<Shape> shapes) : Carry(std::vector<Shape>(shapes)) {}

template <class T>
Carry<T>::Carry(const std::vector<Shape>& shapes) : shapes_(shapes) {
  if (shapes_.empty() || static_cast<int>(shapes_.size()) > State<T>::max_parts) {
    throw ValueError("Carry: " + std::to_string(shapes_.size()) + " parts: expected 1 to " +
                     std::to_string(State<T>::max_parts));
  }
  for (auto& buffers : buffers_) {
    for (const Shape& s : shapes_) buffers.push_back(Tensor<T>::zeros(s));
  }
}

template <class T>
TensorRef<const T> Carry<T>::value(int part) const {
  return buffers_[front_].at(static_cast<std::size_t>(part)).ref();
}

template <class T>
State<T> Carry<T>::read(Tape<T>& tape) const {
  State<T> state;
  for (const Tensor<T>& b : buffers_[front_]) {
    state.push_back(tape.external_leaf(b.data(), nullptr, b.shape()));
  }
  return state;
}

template <class T>
void Carry<T>::write(const State<T>& state) {
  if (state.size() != size()) {
    throw ShapeError("Carry::write: a state of " + std::to_string(state.size()) +
                     " parts for a carry of " + std::to_string(size()));
  }
  for (int i = 0; i < size(); ++i) {
    if (state[i].shape() != shapes_[static_cast<std::size_t>(i)]) {
      throw ShapeError("Carry::write: part " + std::to_string(i) + " is " + state[i].shape().str() +
                       ", expected " + shapes_[static_cast<std::size_t>(i)].str());
    }
  }
  std::vector<Tensor<T>>& back = buffers_[1 - front_];
  for (int i = 0; i < size(); ++i) {
    const TensorRef<const T> v = state[i].value();
    std::copy(v.begin(), v.end(), back[static_cast<std::size_t>(i)].data());
  }
  front_ = 1 - front_;
}

template <class T>
void Carry<T>::reset() {
  for (Tensor<T>& b : buffers_[front_]) b.fill(T(0));
}

template class Carry<float>;
template class Carry<double>;

}  // namespace tapeloop
