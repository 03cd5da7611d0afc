// Shape ops: views (reshape/view, permute/transpose/t, unsqueeze/squeeze/flatten,
// narrow/select, expand) and copies (contiguous, clone, to).
//
// These only move elements, so each backward moves the gradient back:
// reshape ↔ reshape, permute ↔ inverse permute, slice ↔ zeros with dY in the
// slice, expand ↔ sum over the expanded dims (the value was used once per copy).
#include <numeric>
#include <optional>

#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// Strides that let `sizes` view memory laid out as (old_sizes, old_strides), if any.
std::optional<Shape> view_strides(IntArrayRef old_sizes, IntArrayRef old_strides, IntArrayRef sizes) {
  Shape st;
  st.resize(sizes.size());
  if (old_sizes.empty() || checked_numel(old_sizes) == 0) return contiguous_strides(sizes);
  int64_t view_d = static_cast<int64_t>(sizes.size()) - 1;
  int64_t chunk_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[d];
    // End of a run of dims that are contiguous with each other?
    if (d == 0 || (old_sizes[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || sizes[view_d] == 1)) {
        st[view_d] = view_numel * chunk_stride;
        view_numel *= sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

// Resolves one -1 in a requested shape; checks the element count.
Shape infer_size(IntArrayRef req, int64_t numel, const char* op, IntArrayRef from) {
  Shape s(req);
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw ShapeError(std::string(op) + ": only one dimension can be -1, got " + shape_str(req));
      infer = static_cast<int64_t>(i);
    } else if (s[i] < 0) {
      throw ShapeError(std::string(op) + ": invalid size " + std::to_string(s[i]) + " in " + shape_str(req));
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw ShapeError(std::string(op) + ": shape " + shape_str(req) + " is invalid for a tensor of shape " +
                       shape_str(from) + " (" + std::to_string(numel) + " elements)");
    s[static_cast<size_t>(infer)] = numel / known;
  } else if (known != numel) {
    throw ShapeError(std::string(op) + ": shape " + shape_str(req) + " is invalid for a tensor of shape " +
                     shape_str(from) + " (" + std::to_string(numel) + " elements, " + std::to_string(known) +
                     " requested)");
  }
  return s;
}

struct ReshapeBackward : Node {
  ReshapeBackward() : Node(OpKind::Reshape) {}
  Shape shape;
  TensorList apply(TensorList&& g) override {
    // Y = A with new dims (same elements, same order)   dA[A] = dY reshaped to A's shape
    return {g[0].reshape(shape)};
  }
};

struct PermuteBackward : Node {
  PermuteBackward() : Node(OpKind::Permute) {}
  Shape inverse;
  TensorList apply(TensorList&& g) override {
    // Y = A with dims reordered     dA[A] = dY with the inverse order
    return {g[0].permute(inverse)};
  }
};

struct ExpandBackward : Node {
  ExpandBackward() : Node(OpKind::Expand) {}
  Shape shape;
  TensorList apply(TensorList&& g) override {
    // Y = A repeated along size-1 (or new leading) dims   dA[A] = Σ dY over those dims
    return {sum_to(g[0], shape)};
  }
};

struct NarrowBackward : Node {
  NarrowBackward() : Node(OpKind::Narrow) {}
  Shape shape;
  int64_t dim = 0, start = 0, length = 0;
  TensorList apply(TensorList&& g) override {
    // Y = A[start:start+length along dim]   dA[A] = zeros, with dY in that slice
    Tensor da = zeros(shape, g[0].dtype());
    da.narrow(dim, start, length).copy_(g[0]);
    return {da};
  }
};

struct SelectBackward : Node {
  SelectBackward() : Node(OpKind::Select) {}
  Shape shape;
  int64_t dim = 0, index = 0;
  TensorList apply(TensorList&& g) override {
    // Y = A[index along dim] (that dim removed)   dA[A] = zeros, with dY at index
    Tensor da = zeros(shape, g[0].dtype());
    da.select(dim, index).copy_(g[0]);
    return {da};
  }
};

struct CopyBackward : Node {
  CopyBackward() : Node(OpKind::Contiguous) {}
  TensorList apply(TensorList&& g) override {
    // Y = a copy of A    dA[A] = dY
    return {g[0]};
  }
};

struct ToDtypeBackward : Node {
  ToDtypeBackward() : Node(OpKind::ToDtype) {}
  ScalarType from = kFloat;
  TensorList apply(TensorList&& g) override {
    // Y = A converted    dA[A] = dY converted back to A's dtype
    return {g[0].to(from)};
  }
};

Tensor view_with_history(const Tensor& a, IntArrayRef sizes, IntArrayRef strides, int64_t offset) {
  Tensor out = detail::make_view(a, sizes, strides, offset);
  record<ReshapeBackward>(out, {&a}, {}, [&](ReshapeBackward& n) { n.shape = Shape(a.sizes()); });
  return out;
}

}  // namespace
}  // namespace ops

using namespace ops;

Tensor reshape(const Tensor& a, IntArrayRef shape_in) {
  detail::check_defined(a, "reshape");
  Shape shape = infer_size(shape_in, a.numel(), "reshape", a.sizes());
  if (auto st = view_strides(a.sizes(), a.strides(), shape)) return view_with_history(a, shape, *st, a.storage_offset());
  // Not expressible as a view: copy, then view the copy.
  return view_with_history(contiguous(a), shape, contiguous_strides(shape), 0);
}

Tensor view(const Tensor& a, IntArrayRef shape_in) {
  detail::check_defined(a, "view");
  Shape shape = infer_size(shape_in, a.numel(), "view", a.sizes());
  auto st = view_strides(a.sizes(), a.strides(), shape);
  if (!st)
    throw ShapeError("view: shape " + shape_str(shape) + " is not compatible with the strides of a tensor of shape " +
                     shape_str(a.sizes()) + " and strides " + shape_str(a.strides()) +
                     " (it is not contiguous); use reshape(), or call contiguous() first");
  return view_with_history(a, shape, *st, a.storage_offset());
}

Tensor permute(const Tensor& a, IntArrayRef dims) {
  detail::check_defined(a, "permute");
  const int64_t n = a.dim();
  if (static_cast<int64_t>(dims.size()) != n)
    throw ShapeError("permute: expected " + std::to_string(n) + " dims for a tensor of shape " + shape_str(a.sizes()) +
                     ", got " + shape_str(dims));
  Shape sizes, strides, inverse;
  inverse.resize(static_cast<size_t>(n), -1);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[static_cast<size_t>(i)], n, "permute");
    if (inverse[static_cast<size_t>(d)] != -1)
      throw IndexError("permute: dimension " + std::to_string(d) + " appears twice in " + shape_str(dims));
    inverse[static_cast<size_t>(d)] = i;
    sizes.push_back(a.sizes()[static_cast<size_t>(d)]);
    strides.push_back(a.strides()[static_cast<size_t>(d)]);
  }
  Tensor out = detail::make_view(a, sizes, strides, a.storage_offset());
  record<PermuteBackward>(out, {&a}, {}, [&](PermuteBackward& node) { node.inverse = inverse; });
  return out;
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  detail::check_defined(a, "transpose");
  const int64_t n = a.dim();
  if (n == 0) return a;
  d0 = wrap_dim(d0, n, "transpose");
  d1 = wrap_dim(d1, n, "transpose");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[static_cast<size_t>(d0)], order[static_cast<size_t>(d1)]);
  return permute(a, order);
}

Tensor t(const Tensor& a) {
  detail::check_defined(a, "t");
  if (a.dim() > 2)
    throw ShapeError("t: expects a tensor with at most 2 dimensions, got shape " + shape_str(a.sizes()) +
                     "; use transpose(d0, d1)");
  return a.dim() < 2 ? a : transpose(a, 0, 1);
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "unsqueeze");
  dim = wrap_dim(dim, a.dim() + 1, "unsqueeze");
  Shape s(a.sizes()), st(a.strides());
  int64_t stride = dim < a.dim() ? a.strides()[static_cast<size_t>(dim)] * a.sizes()[static_cast<size_t>(dim)] : 1;
  s.insert(static_cast<size_t>(dim), 1);
  st.insert(static_cast<size_t>(dim), stride);
  return view_with_history(a, s, st, a.storage_offset());
}

Tensor squeeze(const Tensor& a) {
  detail::check_defined(a, "squeeze");
  Shape s, st;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (a.size(d) != 1) {
      s.push_back(a.size(d));
      st.push_back(a.stride(d));
    }
  return view_with_history(a, s, st, a.storage_offset());
}

Tensor squeeze(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "squeeze");
  if (a.dim() == 0) return a;
  dim = wrap_dim(dim, a.dim(), "squeeze");
  if (a.size(dim) != 1) return a;
  Shape s(a.sizes()), st(a.strides());
  s.erase(static_cast<size_t>(dim));
  st.erase(static_cast<size_t>(dim));
  return view_with_history(a, s, st, a.storage_offset());
}

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  detail::check_defined(a, "flatten");
  if (a.dim() == 0) return a.reshape({1});
  start_dim = wrap_dim(start_dim, a.dim(), "flatten");
  end_dim = wrap_dim(end_dim, a.dim(), "flatten");
  if (start_dim > end_dim)
    throw IndexError("flatten: start_dim (" + std::to_string(start_dim) + ") must not come after end_dim (" +
                     std::to_string(end_dim) + ")");
  Shape s;
  int64_t flat = 1;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (d < start_dim || d > end_dim) s.push_back(a.size(d));
    else {
      flat *= a.size(d);
      if (d == end_dim) s.push_back(flat);
    }
  }
  return reshape(a, s);
}

Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  detail::check_defined(a, "narrow");
  if (a.dim() == 0) throw IndexError("narrow: cannot narrow a 0-d tensor");
  dim = wrap_dim(dim, a.dim(), "narrow");
  int64_t size = a.size(dim);
  if (start < 0) start += size;
  if (start < 0 || length < 0 || start + length > size)
    throw IndexError("narrow: range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                     ") is out of bounds for dimension " + std::to_string(dim) + " of size " + std::to_string(size));
  Shape s(a.sizes());
  s[static_cast<size_t>(dim)] = length;
  Tensor out = detail::make_view(a, s, a.strides(), a.storage_offset() + start * a.stride(dim));
  record<NarrowBackward>(out, {&a}, {}, [&](NarrowBackward& n) {
    n.shape = Shape(a.sizes());
    n.dim = dim;
    n.start = start;
    n.length = length;
  });
  return out;
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  detail::check_defined(a, "select");
  if (a.dim() == 0) throw IndexError("select: cannot index a 0-d tensor");
  dim = wrap_dim(dim, a.dim(), "select");
  int64_t size = a.size(dim);
  if (index < -size || index >= size)
    throw IndexError("select: index " + std::to_string(index) + " is out of range for dimension " +
                     std::to_string(dim) + " of size " + std::to_string(size) + " (shape " + shape_str(a.sizes()) + ")");
  if (index < 0) index += size;
  Shape s(a.sizes()), st(a.strides());
  s.erase(static_cast<size_t>(dim));
  st.erase(static_cast<size_t>(dim));
  Tensor out = detail::make_view(a, s, st, a.storage_offset() + index * a.stride(dim));
  record<SelectBackward>(out, {&a}, {}, [&](SelectBackward& n) {
    n.shape = Shape(a.sizes());
    n.dim = dim;
    n.index = index;
  });
  return out;
}

Tensor expand(const Tensor& a, IntArrayRef sizes_in) {
  detail::check_defined(a, "expand");
  if (sizes_in.size() < static_cast<size_t>(a.dim()))
    throw ShapeError("expand: the target shape " + shape_str(sizes_in) + " has fewer dims than the tensor's " +
                     shape_str(a.sizes()));
  Shape sizes(sizes_in), strides;
  strides.resize(sizes.size());
  size_t off = sizes.size() - static_cast<size_t>(a.dim());
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i < off) {
      if (sizes[i] < 0) throw ShapeError("expand: -1 is not allowed for a new leading dimension");
      strides[i] = 0;
      continue;
    }
    int64_t have = a.sizes()[i - off];
    if (sizes[i] == -1) sizes[i] = have;
    if (have == sizes[i]) strides[i] = a.strides()[i - off];
    else if (have == 1) strides[i] = 0;
    else
      throw ShapeError("expand: the tensor of shape " + shape_str(a.sizes()) + " cannot be expanded to " +
                       shape_str(sizes_in) + " (dimension " + std::to_string(i) + ": size " + std::to_string(have) +
                       " is neither 1 nor " + std::to_string(sizes[i]) + ")");
  }
  if (sizes == Shape(a.sizes())) return a;
  Tensor out = detail::make_view(a, sizes, strides, a.storage_offset());
  record<ExpandBackward>(out, {&a}, {}, [&](ExpandBackward& n) { n.shape = Shape(a.sizes()); });
  return out;
}

Tensor contiguous(const Tensor& a) {
  detail::check_defined(a, "contiguous");
  if (a.is_contiguous()) return a;
  Tensor out = kernels::contiguous_copy(a);
  record<CopyBackward>(out, {&a}, {}, [](CopyBackward&) {});
  return out;
}

Tensor Tensor::contiguous() const { return dg::contiguous(*this); }

Tensor Tensor::clone() const {
  detail::check_defined(*this, "clone");
  Tensor out = kernels::contiguous_copy(*this);
  record<CopyBackward>(out, {this}, {}, [](CopyBackward&) {});
  return out;
}

Tensor Tensor::to(ScalarType t) const {
  detail::check_defined(*this, "to");
  if (t == dtype()) return *this;
  Tensor out = make_tensor(sizes(), t);
  kernels::copy(out, *this);
  if (is_floating(t)) record<ToDtypeBackward>(out, {this}, {}, [&](ToDtypeBackward& n) { n.from = dtype(); });
  return out;
}

}  // namespace dg
