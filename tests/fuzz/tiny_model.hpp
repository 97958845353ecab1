// The model the checkpoint harness loads into, and whose checkpoints seed it: three parameters
// under PyTorch-style dotted names two levels deep, as a real model's.
#pragma once

#include <cstdint>

#include "tapeloop/models/module.hpp"

namespace tapeloop::fuzz {

// Values that differ from element to element, so that a partly loaded tensor shows.
template <class T>
Tensor<T> counting(const Shape& shape, T start) {
  Tensor<T> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = start + static_cast<T>(i) / T(8);
  return t;
}

template <class T>
struct Table : models::Module<T> {
  Parameter<T> weight{counting<T>({4, 3}, T(0.5))};
  void visit(models::ModuleVisitor<T>& v) override { v.parameter("weight", weight); }
};
template <class T>
struct Readout : models::Module<T> {
  Parameter<T> weight{counting<T>({2, 3}, T(1))}, bias{counting<T>({2}, T(-1))};
  void visit(models::ModuleVisitor<T>& v) override {
    v.parameter("weight", weight);
    v.parameter("bias", bias);
  }
};
template <class T>
struct TinyModel : models::Module<T> {
  Table<T> embedding;
  Readout<T> out;
  void visit(models::ModuleVisitor<T>& v) override {
    v.module("embedding", embedding);
    v.module("out", out);
  }
};

}  // namespace tapeloop::fuzz
