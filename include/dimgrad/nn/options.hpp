// dimgrad — what nn options share: LibTorch's enum tags (dg::kMean, dg::kReLU,
// dg::kFanIn, dg::kZeros, ...) and ExpandingArray<D> (a size written once or per
// dimension: `kernel_size(3)` or `kernel_size({3, 5})`).
//
// As in LibTorch each tag is its own type, so an option holds a std::variant of
// the tags it accepts: `reduction(dg::kSum)` compiles, `reduction(dg::kReLU)`
// does not. enum_name(v) gives the tag's name ("kSum") for messages.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "dimgrad/errors.hpp"
#include "dimgrad/tensor.hpp"

#define DG_ENUM_LIST(_) \
  _(Linear)             \
  _(Conv1D)             \
  _(Conv2D)             \
  _(Conv3D)             \
  _(ConvTranspose1D)    \
  _(ConvTranspose2D)    \
  _(ConvTranspose3D)    \
  _(Sigmoid)            \
  _(Tanh)               \
  _(ReLU)               \
  _(GELU)               \
  _(SiLU)               \
  _(Mish)               \
  _(LeakyReLU)          \
  _(FanIn)              \
  _(FanOut)             \
  _(Constant)           \
  _(Reflect)            \
  _(Replicate)          \
  _(Circular)           \
  _(Nearest)            \
  _(Bilinear)           \
  _(Bicubic)            \
  _(Trilinear)          \
  _(Area)               \
  _(NearestExact)       \
  _(Sum)                \
  _(Mean)               \
  _(Max)                \
  _(None)               \
  _(BatchMean)          \
  _(Zeros)              \
  _(Border)             \
  _(Reflection)         \
  _(RNN_TANH)           \
  _(RNN_RELU)           \
  _(LSTM)               \
  _(GRU)                \
  _(Valid)              \
  _(Same)

namespace dg {

namespace enumtype {
#define DG_ENUM_STRUCT(name)                                                     \
  struct k##name {                                                               \
    constexpr k##name() = default;                                               \
    static constexpr const char* str() { return "k" #name; }                     \
    friend constexpr bool operator==(const k##name&, const k##name&) { return true; } \
  };
DG_ENUM_LIST(DG_ENUM_STRUCT)
#undef DG_ENUM_STRUCT
}  // namespace enumtype

#define DG_ENUM_CONST(name) inline constexpr enumtype::k##name k##name{};
DG_ENUM_LIST(DG_ENUM_CONST)
#undef DG_ENUM_CONST

// "kMean" for a variant holding enumtype::kMean (or for a bare tag).
template <class... Ts> std::string enum_name(const std::variant<Ts...>& v) {
  return std::visit([](const auto& t) { return std::string(t.str()); }, v);
}
template <class T, class = decltype(T::str())> std::string enum_name(const T&) { return T::str(); }

// Whether a variant holds tag T: `holds(opts.reduction(), dg::kMean)`.
template <class T, class... Ts> bool holds(const std::variant<Ts...>& v, const T&) {
  return std::holds_alternative<T>(v);
}

// ------------------------------------------------------------- ExpandingArray
// D values of T, built from one value (repeated D times), a braced list or a
// vector of exactly D values (anything else throws a dg::Error naming both counts).
template <size_t D, class T = int64_t> class ExpandingArray {
 public:
  ExpandingArray(std::initializer_list<T> list) { assign(list.begin(), list.size()); }  // NOLINT
  ExpandingArray(const std::vector<T>& vec) { assign(vec.data(), vec.size()); }        // NOLINT
  ExpandingArray(const std::array<T, D>& values) : values_(values) {}                  // NOLINT
  ExpandingArray(T single) { values_.fill(single); }                                    // NOLINT
  template <class U = T, class = std::enable_if_t<std::is_same_v<U, int64_t>>>
  ExpandingArray(IntArrayRef r) {  // NOLINT
    assign(r.data(), r.size());
  }

  std::array<T, D>& operator*() { return values_; }
  const std::array<T, D>& operator*() const { return values_; }
  std::array<T, D>* operator->() { return &values_; }
  const std::array<T, D>* operator->() const { return &values_; }
  T& operator[](size_t i) { return values_[i]; }
  const T& operator[](size_t i) const { return values_[i]; }
  size_t size() const noexcept { return D; }
  const T* begin() const { return values_.data(); }
  const T* end() const { return values_.data() + D; }
  std::vector<T> vec() const { return {values_.begin(), values_.end()}; }
  template <class U = T, class = std::enable_if_t<std::is_same_v<U, int64_t>>>
  operator IntArrayRef() const {  // NOLINT
    return IntArrayRef(values_.data(), D);
  }
  friend bool operator==(const ExpandingArray& a, const ExpandingArray& b) { return a.values_ == b.values_; }
  friend bool operator!=(const ExpandingArray& a, const ExpandingArray& b) { return a.values_ != b.values_; }

 protected:
  ExpandingArray() = default;
  void assign(const T* data, size_t n) {
    if (n != D)
      throw Error("ExpandingArray: expected " + std::to_string(D) + " values, but instead got " + std::to_string(n));
    for (size_t i = 0; i < D; ++i) values_[i] = data[i];
  }
  std::array<T, D> values_{};
};

// Printed as "3" when D == 1, else "[3, 5]".
template <size_t D, class T> std::ostream& operator<<(std::ostream& os, const ExpandingArray<D, T>& a) {
  if (D == 1) return os << a[0];
  os << "[";
  for (size_t i = 0; i < D; ++i) os << (i ? ", " : "") << a[i];
  return os << "]";
}

// D optional values (adaptive pooling: `output_size({std::nullopt, 7})` keeps a dim).
template <size_t D, class T = int64_t> class ExpandingArrayWithOptionalElem : public ExpandingArray<D, std::optional<T>> {
  using Base = ExpandingArray<D, std::optional<T>>;

 public:
  using Base::Base;
  ExpandingArrayWithOptionalElem(std::initializer_list<T> list) {  // NOLINT
    set(list.begin(), list.size());
  }
  ExpandingArrayWithOptionalElem(const std::vector<T>& vec) { set(vec.data(), vec.size()); }  // NOLINT
  ExpandingArrayWithOptionalElem(T single) { this->values_.fill(single); }                    // NOLINT

 private:
  void set(const T* data, size_t n) {
    if (n != D)
      throw Error("ExpandingArray: expected " + std::to_string(D) + " values, but instead got " + std::to_string(n));
    for (size_t i = 0; i < D; ++i) this->values_[i] = data[i];
  }
};

namespace nn {
// The reduction most losses take: none, mean (the default) or sum.
using reduction_t = std::variant<enumtype::kNone, enumtype::kMean, enumtype::kSum>;
}  // namespace nn

}  // namespace dg
