// Shapes, strides, dtypes and broadcasting rules.
#include <ostream>
#include <sstream>

#include "dimgrad/tensor.hpp"

namespace dg {

bool IntArrayRef::equals(IntArrayRef o) const {
  if (size_ != o.size_) return false;
  for (size_t i = 0; i < size_; ++i)
    if (data_[i] != o.data_[i]) return false;
  return true;
}

Shape::Shape(IntArrayRef r) {
  if (r.size() > static_cast<size_t>(kMaxDims))
    throw ShapeError("tensors have at most " + std::to_string(kMaxDims) + " dimensions, got " +
                     std::to_string(r.size()) + " (" + shape_str(r) + ")");
  n_ = r.size();
  for (size_t i = 0; i < n_; ++i) d_[i] = r[i];
}

void Shape::push_back(int64_t v) {
  if (n_ == static_cast<size_t>(kMaxDims))
    throw ShapeError("tensors have at most " + std::to_string(kMaxDims) + " dimensions");
  d_[n_++] = v;
}

void Shape::insert(size_t pos, int64_t v) {
  if (n_ == static_cast<size_t>(kMaxDims))
    throw ShapeError("tensors have at most " + std::to_string(kMaxDims) + " dimensions");
  for (size_t i = n_; i > pos; --i) d_[i] = d_[i - 1];
  d_[pos] = v;
  ++n_;
}

void Shape::erase(size_t pos) {
  for (size_t i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
  --n_;
}

void Shape::resize(size_t n, int64_t fill) {
  if (n > static_cast<size_t>(kMaxDims))
    throw ShapeError("tensors have at most " + std::to_string(kMaxDims) + " dimensions");
  for (size_t i = n_; i < n; ++i) d_[i] = fill;
  n_ = n;
}

int64_t checked_numel(IntArrayRef sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s < 0) throw ShapeError("negative size in shape " + shape_str(sizes));
    if (__builtin_mul_overflow(n, s, &n))
      throw ShapeError("shape " + shape_str(sizes) + " has more elements than fit in int64");
  }
  return n;
}

std::string shape_str(IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(sizes[i]);
  }
  return s + "]";
}

Shape contiguous_strides(IntArrayRef sizes) {
  Shape st;
  st.resize(sizes.size());
  int64_t acc = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    st[i] = acc;
    // A zero-sized dimension keeps numel at 0, so checked_numel cannot catch huge other dimensions.
    if (i > 0 && __builtin_mul_overflow(acc, std::max<int64_t>(sizes[i], 1), &acc))
      throw Error("shape " + shape_str(sizes) + " is too large: its strides overflow int64");
  }
  return st;
}

Shape broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out;
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " cannot be broadcast together (dimension " + std::to_string(i) + ": " +
                       std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

size_t element_size(ScalarType t) {
  switch (t) {
    case kFloat: return 4;
    case kDouble: return 8;
    case kLong: return 8;
    case kBool: return 1;
    case kUInt8: return 1;
  }
  return 0;
}

const char* dtype_name(ScalarType t) {
  switch (t) {
    case kFloat: return "float32";
    case kDouble: return "float64";
    case kLong: return "int64";
    case kBool: return "bool";
    case kUInt8: return "uint8";
  }
  return "?";
}

ScalarType promote_types(ScalarType a, ScalarType b) {
  auto rank = [](ScalarType t) {
    switch (t) {
      case kBool: return 0;
      case kUInt8: return 1;
      case kLong: return 2;
      case kFloat: return 3;
      case kDouble: return 4;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

std::ostream& operator<<(std::ostream& os, ScalarType t) { return os << dtype_name(t); }

std::ostream& operator<<(std::ostream& os, IntArrayRef s) { return os << shape_str(s); }

}  // namespace dg
