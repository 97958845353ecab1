// The parameter table of a module and its totals.
#include "tapeloop/models/summary.hpp"

#include <algorithm>
#include <vector>

namespace tapeloop::models {

namespace {

// 1234567 -> "1,234,567".
std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

void pad_right(std::string& out, const std::string& text, std::size_t width) {
  out += text;
  out.append(width - text.size(), ' ');
}

void pad_left(std::string& out, const std::string& text, std::size_t width) {
  out.append(width - text.size(), ' ');
  out += text;
}

}  // namespace

template <class T>
std::string summary(Module<T>& module) {
  struct Row {
    std::string name, shape, count, trainable;
  };
  std::vector<Row> rows;
  Row header{"Parameter", "Shape", "Parameters", "Trainable"};
  std::size_t w_name = header.name.size(), w_shape = header.shape.size(),
              w_count = header.count.size();
  std::int64_t total = 0, trainable = 0;
  for (auto& [name, p] : module.named_parameters()) {
    rows.push_back(
        {name, p->shape().str(), grouped(p->numel()), p->requires_grad() ? "yes" : "no"});
    total += p->numel();
    if (p->requires_grad()) trainable += p->numel();
    w_name = std::max(w_name, name.size());
    w_shape = std::max(w_shape, rows.back().shape.size());
    w_count = std::max(w_count, rows.back().count.size());
  }
  // Two spaces between columns; counts right-aligned so their digits line up.
  const std::size_t width = w_name + 2 + w_shape + 2 + w_count + 2 + header.trainable.size();
  const std::string rule(width, '-');
  std::string out;
  auto add_row = [&](const Row& r) {
    pad_right(out, r.name, w_name + 2);
    pad_right(out, r.shape, w_shape + 2);
    pad_left(out, r.count, w_count);
    out += "  " + r.trainable + "\n";
  };
  add_row(header);
  out += rule + "\n";
  for (const Row& r : rows) add_row(r);
  out += rule + "\n";
  out += "Total parameters: " + grouped(total) + "\n";
  out += "Trainable parameters: " + grouped(trainable) + "\n";
  out += "Frozen parameters: " + grouped(total - trainable) + "\n";
  return out;
}

template <class T>
std::int64_t parameter_count(Module<T>& module, bool trainable_only) {
  std::int64_t total = 0;
  for (auto& [name, p] : module.named_parameters()) {
    if (!trainable_only || p->requires_grad()) total += p->numel();
  }
  return total;
}

template std::string summary<float>(Module<float>&);
template std::string summary<double>(Module<double>&);
template std::int64_t parameter_count<float>(Module<float>&, bool);
template std::int64_t parameter_count<double>(Module<double>&, bool);

}  // namespace tapeloop::models
