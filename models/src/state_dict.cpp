// Module::state_dict and load_state_dict: parameters by their dotted names, PyTorch's keys.
#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tapeloop/errors.hpp"
#include "tapeloop/models/module.hpp"

namespace tapeloop::models {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

// Checks every entry of `source` against the module, then copies: nothing is written unless all
// fit. A source gives an entry's dtype and shape (find, null if absent), every entry's name
// (names) and copies one entry into a parameter (copy).
template <class T, class Source>
void load_named(Module<T>& module, const Source& source, bool strict, const std::string& where) {
  const std::string who = "load_state_dict" + where;
  const std::vector<NamedParameter<T>> params = module.named_parameters();
  std::vector<std::string> missing;
  std::vector<const NamedParameter<T>*> matched;
  std::set<std::string, std::less<>> known;
  for (const NamedParameter<T>& named : params) {
    known.insert(named.first);
    const std::pair<Dtype, Shape>* entry = source.find(named.first);
    if (!entry) {
      missing.push_back(named.first);
      continue;
    }
    if (entry->first != dtype_of<T>()) {
      throw ValueError(who + ": '" + named.first + "' is " + dtype_name(entry->first) +
                       ", the parameter is " + dtype_name(dtype_of<T>()));
    }
    if (entry->second != named.second->shape()) {
      throw ShapeError(who + ": '" + named.first + "' has shape " + entry->second.str() +
                       ", the parameter " + named.second->shape().str());
    }
    matched.push_back(&named);
  }
  std::vector<std::string> unexpected;
  for (const std::string& name : source.names()) {
    if (!known.count(name)) unexpected.push_back(name);
  }
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::string what = who + ":";
    if (!missing.empty()) what += " missing " + joined(missing) + ";";
    if (!unexpected.empty()) what += " unexpected " + joined(unexpected) + ";";
    what.pop_back();
    throw ValueError(what + " (strict = false loads the names both have)");
  }
  for (const NamedParameter<T>* named : matched) {
    source.copy(named->first, named->second->value().ref());
  }
}

// Another module's state_dict(), or any list of named views.
template <class T>
class ViewSource {
 public:
  explicit ViewSource(std::span<const NamedTensor> entries) : entries_(entries) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto [it, inserted] = index_.try_emplace(
          entries[i].name(), i, std::pair(entries[i].dtype(), entries[i].shape()));
      if (!inserted) {
        throw ValueError("load_state_dict: two entries are named '" + entries[i].name() + "'");
      }
    }
  }
  const std::pair<Dtype, Shape>* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &it->second.second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : index_) out.push_back(entry.first);
    return out;
  }
  void copy(const std::string& name, TensorRef<T> out) const {
    const T* from = static_cast<const T*>(entries_[index_.at(name).first].data());
    std::copy(from, from + out.numel(), out.data);
  }

 private:
  std::span<const NamedTensor> entries_;
  std::map<std::string, std::pair<std::size_t, std::pair<Dtype, Shape>>, std::less<>> index_;
};

// The entries of a validated safetensors file.
template <class T>
class FileSource {
 public:
  explicit FileSource(const SafetensorsFile& file) : file_(file) {
    for (const std::string& name : file.names()) {
      entries_.try_emplace(name, file.dtype(name), file.shape(name));
    }
  }
  const std::pair<Dtype, Shape>* find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const { return file_.names(); }
  void copy(const std::string& name, TensorRef<T> out) const { file_.read(name, out); }

 private:
  const SafetensorsFile& file_;
  std::map<std::string, std::pair<Dtype, Shape>, std::less<>> entries_;
};

}  // namespace

template <class T>
std::vector<NamedTensor> Module<T>::state_dict() {
  std::vector<NamedTensor> out;
  for (const auto& [name, p] : named_parameters()) {
    out.emplace_back(name, std::as_const(p->value()).ref());
  }
  return out;
}

template <class T>
void Module<T>::load_state_dict(std::span<const NamedTensor> entries, bool strict) {
  load_named(*this, ViewSource<T>(entries), strict, "");
}

template <class T>
void Module<T>::load_state_dict(const SafetensorsFile& file, bool strict) {
  load_named(*this, FileSource<T>(file), strict, " (" + file.path().string() + ")");
}

template class Module<float>;
template class Module<double>;

}  // namespace tapeloop::models
