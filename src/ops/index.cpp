// Indexing and joining: index_select gather cat stack (+ chunk split one_hot).
//
// Picking elements is linear, so the backward sends each gradient element back to
// where its value came from; an element picked twice receives the sum (rule 2).
#include <omp.h>

#include <type_traits>

#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

void check_index(const Tensor& index, const char* op) {
  detail::check_defined(index, op);
  if (index.dtype() != kLong)
    throw DTypeError(std::string(op) + ": the index must be an int64 tensor, got " + dtype_name(index.dtype()));
}

// out[o, j, i] = a[o, idx[j], i]   (a, out contiguous; geometry around dim)
Tensor index_select_raw(const Tensor& a_in, int64_t dim, const Tensor& idx_in) {
  Tensor a = kernels::as_contiguous(a_in), idx = kernels::as_contiguous(idx_in);
  Shape s(a.sizes());
  const int64_t n = idx.numel(), size = a.size(dim);
  s[static_cast<size_t>(dim)] = n;
  Tensor out = make_tensor(s, a.dtype());
  auto g = kernels::reduce_geometry(a.sizes(), dim, dim + 1);
  const int64_t* ix = idx.data_ptr<int64_t>();
  for (int64_t j = 0; j < n; ++j)
    if (ix[j] < -size || ix[j] >= size)
      throw IndexError("index_select: index " + std::to_string(ix[j]) + " is out of range for dimension " +
                       std::to_string(dim) + " of size " + std::to_string(size));
  const size_t es = a.element_size();
  const char* src = static_cast<const char*>(a.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  // Picking a batch of rows from a large data set waits on memory (each row is
  // a cache miss in a different place), so the threads share the rows from
  // kParallelGrain bytes, the length from which the elementwise loops share
  // theirs: a batch of uint8 images is then split the same way here and in the
  // conversion to float that follows, and each thread converts the rows it
  // copied (W3's 64-row batch of 50 KB: from 64 KiB, the copy stayed on one
  // thread and the conversion read half of it from the other's cache; 2
  // threads, 6 alternations each: 305-321k → 322-328k samples/s).
  const int64_t rows = g.outer * n;
  const size_t row_bytes = static_cast<size_t>(g.inner) * es;
  const int64_t bytes = static_cast<int64_t>(row_bytes) * rows;
  const bool par = rows > 1 && bytes >= kernels::kParallelGrain && omp_get_max_threads() > 1 && !omp_in_parallel();
  auto source_row = [&](int64_t k) {
    const int64_t o = k / n, j = k % n;
    const int64_t r = ix[j] < 0 ? ix[j] + size : ix[j];
    return src + static_cast<size_t>((o * size + r) * g.inner) * es;
  };
  // Rows of one element (a batch's labels) from a 1-d tensor: a plain typed
  // gather, whose independent loads the CPU overlaps, instead of a call to
  // memcpy and two divisions per element (64 labels from Fashion-MNIST's 60000
  // in W3's loop: 3.0–3.6 → 1.1–1.6 µs).
  if (g.outer == 1 && g.inner == 1 && !par && (es == 1 || es == 2 || es == 4 || es == 8)) {
    // (a fixed-size memcpy is one load and one store, for any element type)
    auto gather = [&](auto bytes) {
      constexpr size_t B = decltype(bytes)::value;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t r = ix[k] < 0 ? ix[k] + size : ix[k];
        std::memcpy(dst + static_cast<size_t>(k) * B, src + static_cast<size_t>(r) * B, B);
      }
    };
    if (es == 1) gather(std::integral_constant<size_t, 1>{});
    else if (es == 2) gather(std::integral_constant<size_t, 2>{});
    else if (es == 4) gather(std::integral_constant<size_t, 4>{});
    else gather(std::integral_constant<size_t, 8>{});
    return out;
  }
  // The hardware prefetcher follows a row once it is being read, but not the
  // jump to the next row: asking for the row kAhead places ahead keeps several
  // misses in flight (a batch of 64 Fashion-MNIST images from the 47 MB set of
  // bytes: 7.8 → 6.6 µs on one thread; 128 images on two threads: 8.3 → 7.2 µs).
  constexpr int64_t kAhead = 4;
  const bool prefetch = row_bytes >= 256;
  kernels::parallel_for_if(par, rows, [&](int64_t k) {
    if (prefetch && k + kAhead < rows) {
      const char* ahead = source_row(k + kAhead);
      for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
    }
    std::memcpy(dst + static_cast<size_t>(k) * row_bytes, source_row(k), row_bytes);
  });
  return out;
}

struct IndexSelectBackward : Node {
  IndexSelectBackward() : Node(OpKind::IndexSelect) {}
  Shape shape;
  int64_t dim = 0;
  Tensor index;
  TensorList apply(TensorList&& g) override {
    // Y = A[idx along dim]   dA[A] = zeros, with dY rows added at idx (a row picked twice gets both)
    Tensor da = zeros(shape, g[0].dtype());
    Tensor gc = g[0].contiguous();
    auto geo = kernels::reduce_geometry(shape, dim, dim + 1);
    const int64_t n = index.numel(), size = shape[static_cast<size_t>(dim)];
    const int64_t* ix = index.data_ptr<int64_t>();
    dispatch_floating(da.dtype(), "index_select backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* d = da.data_ptr<T>();
      const T* s = gc.data_ptr<T>();
      for (int64_t o = 0; o < geo.outer; ++o)
        for (int64_t j = 0; j < n; ++j) {
          int64_t r = ix[j] < 0 ? ix[j] + size : ix[j];
          T* drow = d + (o * size + r) * geo.inner;
          const T* srow = s + (o * n + j) * geo.inner;
          for (int64_t i = 0; i < geo.inner; ++i) drow[i] += srow[i];
        }
    });
    return {da};
  }
};

// Visits every element of `index` (any strides) with its multi-index.
template <class F> void for_each_index(const Tensor& index, F f) {
  Tensor idx = kernels::as_contiguous(index);
  const int64_t* ix = idx.data_ptr<int64_t>();
  const int64_t n = idx.numel(), nd = idx.dim();
  int64_t pos[kMaxDims] = {};
  for (int64_t k = 0; k < n; ++k) {
    f(pos, ix[k], k);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++pos[d] < idx.size(d)) break;
      pos[d] = 0;
    }
  }
}

int64_t offset_of(const int64_t* pos, IntArrayRef strides, int64_t dim, int64_t at) {
  int64_t off = 0;
  for (size_t d = 0; d < strides.size(); ++d) off += (static_cast<int64_t>(d) == dim ? at : pos[d]) * strides[d];
  return off;
}

struct GatherBackward : Node {
  GatherBackward() : Node(OpKind::Gather) {}
  Shape shape;
  int64_t dim = 0;
  Tensor index;
  TensorList apply(TensorList&& g) override {
    // Y[..i..] = A[..index[..i..] along dim..]   dA[A] = zeros, with dY scatter-added at index
    Tensor da = zeros(shape, g[0].dtype());
    Tensor gc = g[0].contiguous();
    Shape st = contiguous_strides(shape);
    dispatch_floating(da.dtype(), "gather backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* d = da.data_ptr<T>();
      const T* s = gc.data_ptr<T>();
      for_each_index(index, [&](const int64_t* pos, int64_t at, int64_t k) { d[offset_of(pos, st, dim, at)] += s[k]; });
    });
    return {da};
  }
};

struct CatBackward : Node {
  explicit CatBackward(bool stack) : Node(stack ? OpKind::Stack : OpKind::Cat), stack(stack) {}
  bool stack;
  int64_t dim = 0;
  std::vector<int64_t> sizes;  // size of each input along dim (cat)
  TensorList apply(TensorList&& g) override {
    // cat:   Y = [A; B; ...] along dim   dA, dB, ... = the matching slices of dY
    // stack: Y = [A, B, ...] on a new dim dA, dB, ... = dY[0], dY[1], ... along it
    TensorList out;
    int64_t start = 0;
    for (size_t i = 0; i < next_edges.size(); ++i) {
      if (stack) out.push_back(needs_grad(i) ? g[0].select(dim, static_cast<int64_t>(i)) : Tensor());
      else out.push_back(needs_grad(i) ? g[0].narrow(dim, start, sizes[i]) : Tensor());
      if (!stack) start += sizes[i];
    }
    return out;
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  detail::check_defined(a, "index_select");
  check_index(index, "index_select");
  if (index.dim() > 1)
    throw ShapeError("index_select: the index must be 0-d or 1-d, got shape " + shape_str(index.sizes()));
  Tensor src = a.dim() == 0 ? a.reshape({1}) : a;
  dim = wrap_dim(dim, a.dim(), "index_select");
  Tensor idx = index.reshape({-1});
  Tensor out = index_select_raw(src, dim, idx);
  if (a.dim() == 0) out = out.reshape({});
  record<IndexSelectBackward>(out, {&a}, {}, [&](IndexSelectBackward& n) {
    n.shape = Shape(src.sizes());
    n.dim = dim;
    n.index = kernels::as_contiguous(idx);
  });
  return out;
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  detail::check_defined(a, "gather");
  check_index(index, "gather");
  dim = wrap_dim(dim, a.dim(), "gather");
  if (index.dim() != a.dim())
    throw ShapeError("gather: the index must have as many dims as the input (" + std::to_string(a.dim()) +
                     "), got index shape " + shape_str(index.sizes()) + " for input " + shape_str(a.sizes()));
  for (int64_t d = 0; d < a.dim(); ++d)
    if (d != dim && index.size(d) > a.size(d))
      throw ShapeError("gather: index shape " + shape_str(index.sizes()) + " is larger than input shape " +
                       shape_str(a.sizes()) + " in dimension " + std::to_string(d));
  Tensor out = make_tensor(index.sizes(), a.dtype());
  const int64_t size = a.dim() == 0 ? 1 : a.size(dim);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(a.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    for_each_index(index, [&](const int64_t* pos, int64_t at, int64_t k) {
      if (at < 0 || at >= size)
        throw IndexError("gather: index " + std::to_string(at) + " is out of range for dimension " +
                         std::to_string(dim) + " of size " + std::to_string(size));
      dst[k] = src[offset_of(pos, a.strides(), dim, at)];
    });
  });
  record<GatherBackward>(out, {&a}, {}, [&](GatherBackward& n) {
    n.shape = Shape(a.sizes());
    n.dim = dim;
    n.index = kernels::as_contiguous(index);
  });
  return out;
}

Tensor cat(const TensorList& ts, int64_t dim) {
  if (ts.empty()) throw Error("cat: expected a non-empty list of tensors");
  for (const Tensor& t : ts) detail::check_defined(t, "cat");
  const Tensor& first = ts[0];
  if (first.dim() == 0) throw ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack");
  dim = wrap_dim(dim, first.dim(), "cat");
  ScalarType dt = first.dtype();
  for (const Tensor& t : ts) dt = promote_types(dt, t.dtype());
  Shape s(first.sizes());
  int64_t total = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    if (t.dim() != first.dim())
      throw ShapeError("cat: tensor " + std::to_string(i) + " has shape " + shape_str(t.sizes()) +
                       ", expected " + std::to_string(first.dim()) + " dims like tensor 0 " + shape_str(first.sizes()));
    for (int64_t d = 0; d < first.dim(); ++d)
      if (d != dim && t.size(d) != first.size(d))
        throw ShapeError("cat: sizes must match except in dimension " + std::to_string(dim) + ": tensor 0 has shape " +
                         shape_str(first.sizes()) + ", tensor " + std::to_string(i) + " has shape " +
                         shape_str(t.sizes()));
    sizes.push_back(t.size(dim));
    total += t.size(dim);
  }
  s[static_cast<size_t>(dim)] = total;
  Tensor out = make_tensor(s, dt);
  {
    NoGradGuard g;
    int64_t start = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      kernels::copy(out.narrow(dim, start, sizes[i]), ts[i]);
      start += sizes[i];
    }
  }
  if (autograd::any_requires_grad(ts)) {
    auto node = std::make_shared<CatBackward>(false);
    node->dim = dim;
    node->sizes = sizes;
    TensorList outs{out};
    autograd::set_history(node, ts, outs);
    out = outs[0];
  }
  return out;
}

Tensor stack(const TensorList& ts, int64_t dim) {
  if (ts.empty()) throw Error("stack: expected a non-empty list of tensors");
  for (const Tensor& t : ts) detail::check_defined(t, "stack");
  dim = wrap_dim(dim, ts[0].dim() + 1, "stack");
  for (size_t i = 1; i < ts.size(); ++i)
    if (ts[i].sizes() != ts[0].sizes())
      throw ShapeError("stack: all tensors must have one shape; tensor 0 has " + shape_str(ts[0].sizes()) +
                       ", tensor " + std::to_string(i) + " has " + shape_str(ts[i].sizes()));
  Shape s(ts[0].sizes());
  s.insert(static_cast<size_t>(dim), static_cast<int64_t>(ts.size()));
  ScalarType dt = ts[0].dtype();
  for (const Tensor& t : ts) dt = promote_types(dt, t.dtype());
  Tensor out = make_tensor(s, dt);
  {
    NoGradGuard g;
    for (size_t i = 0; i < ts.size(); ++i) kernels::copy(out.select(dim, static_cast<int64_t>(i)), ts[i]);
  }
  if (autograd::any_requires_grad(ts)) {
    auto node = std::make_shared<CatBackward>(true);
    node->dim = dim;
    TensorList outs{out};
    autograd::set_history(node, ts, outs);
    out = outs[0];
  }
  return out;
}

std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim) {
  dim = wrap_dim(dim, a.dim(), "split");
  if (split_size <= 0) throw Error("split: split_size must be positive, got " + std::to_string(split_size));
  std::vector<Tensor> out;
  for (int64_t s = 0; s < a.size(dim); s += split_size) out.push_back(a.narrow(dim, s, std::min(split_size, a.size(dim) - s)));
  return out;
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  if (chunks <= 0) throw Error("chunk: the number of chunks must be positive, got " + std::to_string(chunks));
  dim = wrap_dim(dim, a.dim(), "chunk");
  int64_t size = (a.size(dim) + chunks - 1) / chunks;
  return split(a, std::max<int64_t>(size, 1), dim);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  check_index(labels, "one_hot");
  Tensor l = kernels::as_contiguous(labels);
  Shape s(l.sizes());
  s.push_back(num_classes);
  Tensor out = zeros(s, kLong);
  const int64_t* p = l.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < l.numel(); ++i) {
    if (p[i] < 0 || p[i] >= num_classes)
      throw IndexError("one_hot: label " + std::to_string(p[i]) + " is out of range [0, " + std::to_string(num_classes) + ")");
    o[i * num_classes + p[i]] = 1;
  }
  return out;
}

}  // namespace dg
