// IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (through zlib).
//
// The header announces the exact payload size; the reader checks the payload
// against it in both directions (truncated, or longer than announced). For a
// gzip stream the size is only known after decompressing, so the output grows
// with the data actually produced: a lying header cannot make us allocate more
// than the stream really holds (plus one growth step).
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "dimgrad/data.hpp"
#include "dimgrad/io.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"
#include "tensor/internal.hpp"

namespace dg::data {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Decompresses a gzip stream (possibly of several members) on demand.
class GzipReader {
 public:
  GzipReader(const uint8_t* data, size_t size, const std::string& what) : what_(what) {
    s_.next_in = const_cast<Bytef*>(data);
    s_.avail_in = 0;
    remaining_in_ = size;
    if (inflateInit2(&s_, 16 + MAX_WBITS) != Z_OK) throw IOError(what_ + ": cannot initialize zlib");
  }
  ~GzipReader() { inflateEnd(&s_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Fills up to n bytes; returns fewer only at the end of the stream.
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n && !finished_) {
      feed();
      const size_t want = std::min<size_t>(n - got, 1u << 30);
      s_.next_out = dst + got;
      s_.avail_out = static_cast<uInt>(want);
      int rc = inflate(&s_, Z_NO_FLUSH);
      got += want - s_.avail_out;
      if (rc == Z_STREAM_END) {
        feed();
        if (s_.avail_in == 0) {
          finished_ = true;
        } else if (inflateReset(&s_) != Z_OK) {  // another gzip member follows
          throw IOError(what_ + ": corrupt gzip stream");
        }
      } else if (rc == Z_BUF_ERROR && s_.avail_in == 0 && remaining_in_ == 0) {
        throw IOError(what_ + ": the gzip stream is truncated (it ends before its end marker)");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw IOError(what_ + ": corrupt gzip data (" + (s_.msg ? s_.msg : "zlib error " + std::to_string(rc)) + ")");
      }
    }
    return got;
  }

 private:
  void feed() {
    if (s_.avail_in == 0 && remaining_in_ > 0) {
      const size_t chunk = std::min<size_t>(remaining_in_, 1u << 30);
      s_.avail_in = static_cast<uInt>(chunk);
      remaining_in_ -= chunk;
    }
  }
  const std::string& what_;
  z_stream s_{};
  size_t remaining_in_ = 0;
  bool finished_ = false;
};

// Reads bytes from either raw memory or a gzip stream.
class ByteStream {
 public:
  ByteStream(const uint8_t* data, size_t size, const std::string& what) : data_(data), size_(size) {
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) gz_ = std::make_unique<GzipReader>(data, size, what);
  }
  bool compressed() const { return gz_ != nullptr; }
  size_t read(uint8_t* dst, size_t n) {
    if (gz_) return gz_->read(dst, n);
    n = std::min(n, size_ - pos_);
    if (n) std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
    return n;
  }
  size_t raw_remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
  std::unique_ptr<GzipReader> gz_;
};

std::string find_file(const std::string& dir, const std::vector<std::string>& names, const std::string& dataset) {
  for (const auto& n : names) {
    std::string p = dir + "/" + n;
    if (std::filesystem::exists(p)) return p;
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw IOError(dataset + " not found in '" + dir + "': expected one of " + list +
                (dataset == "Fashion-MNIST" ? " (install the Debian package dataset-fashion-mnist, or pass --data-dir)"
                                            : " (pass --data-dir)"));
}

Dataset load_idx_pair(const std::string& dir, bool train, const std::string& dataset,
                      const std::vector<std::string>& class_names, ScalarType pixels) {
  const std::string p = train ? "train" : "t10k";
  std::string images = find_file(dir,
                                 {p + "-images-idx3-ubyte.gz", p + "-images-idx3-ubyte", p + "-images.idx3-ubyte.gz",
                                  p + "-images.idx3-ubyte"},
                                 dataset);
  std::string labels = find_file(dir,
                                 {p + "-labels-idx1-ubyte.gz", p + "-labels-idx1-ubyte", p + "-labels.idx1-ubyte.gz",
                                  p + "-labels.idx1-ubyte"},
                                 dataset);
  Dataset ds = load_idx_dataset(images, labels, 10, dataset + (train ? " train" : " test"), pixels);
  ds.class_names = class_names;
  return ds;
}

}  // namespace

IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& source_name, uint64_t max_bytes) {
  const std::string what = "IDX file '" + source_name + "'";
  ByteStream in(data, size, what);
  IdxArray a;
  uint8_t head[4];
  if (in.read(head, 4) != 4)
    throw IOError(what + ": only " + std::to_string(size) + " bytes, too short for the 4-byte IDX magic number");
  a.magic = be32(head);
  if (head[0] != 0 || head[1] != 0)
    throw IOError(what + ": wrong magic number " + hex32(a.magic) +
                  " (an IDX file starts with two zero bytes, e.g. 0x00000803 for images, 0x00000801 for labels)");
  if (head[2] != 0x08)
    throw IOError(what + ": element type 0x" + hex32(head[2]).substr(8) + " in magic number " + hex32(a.magic) +
                  " is not supported (only unsigned bytes, 0x08, as in MNIST)");
  const int ndims = head[3];
  if (ndims < 1 || ndims > kMaxDims)
    throw IOError(what + ": magic number " + hex32(a.magic) + " announces " + std::to_string(ndims) +
                  " dimensions (expected 1 to 8)");
  std::vector<uint8_t> dims_raw(4 * static_cast<size_t>(ndims));
  if (in.read(dims_raw.data(), dims_raw.size()) != dims_raw.size())
    throw IOError(what + ": truncated in the header (" + std::to_string(ndims) + " dimension sizes expected)");
  uint64_t expected = 1, nonzero = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = be32(&dims_raw[4 * static_cast<size_t>(i)]);
    a.dims.push_back(d);
    // With a zero dimension the payload is empty, but the other sizes must still make a tensor.
    if (__builtin_mul_overflow(nonzero, uint64_t(std::max<uint32_t>(d, 1)), &nonzero) || nonzero > max_bytes)
      throw IOError(what + ": dimensions " + shape_str(a.dims) + "... are too large (more than the limit of " +
                    std::to_string(max_bytes) + " bytes even ignoring zero sizes)");
    if (__builtin_mul_overflow(expected, uint64_t(d), &expected) || expected > max_bytes)
      throw IOError(what + ": dimensions " + shape_str(a.dims) + " announce more than the limit of " +
                    std::to_string(max_bytes) + " bytes");
  }
  const size_t header = 4 + dims_raw.size();
  if (!in.compressed() && in.raw_remaining() != expected)
    throw IOError(what + ": dimensions " + shape_str(a.dims) + " need " + std::to_string(expected) +
                  " data bytes after the " + std::to_string(header) + "-byte header, the file has " +
                  std::to_string(in.raw_remaining()) +
                  (in.raw_remaining() < expected ? " (truncated file?)" : " (extra bytes at the end)"));
  // Grow with the data actually decompressed, not with what the header claims.
  size_t got = 0;
  while (got < expected) {
    a.data.resize(std::min<uint64_t>(expected, std::max<uint64_t>(got * 2, uint64_t(1) << 20)));
    const size_t n = in.read(a.data.data() + got, a.data.size() - got);
    got += n;
    if (got < a.data.size()) {
      throw IOError(what + ": dimensions " + shape_str(a.dims) + " need " + std::to_string(expected) +
                    " data bytes, the decompressed file has only " + std::to_string(got) + " (truncated file?)");
    }
  }
  uint8_t extra;
  if (in.compressed() && in.read(&extra, 1) != 0)
    throw IOError(what + ": the decompressed data is longer than the " + std::to_string(expected) +
                  " bytes its dimensions " + shape_str(a.dims) + " announce");
  return a;
}

IdxArray read_idx(const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_file(path);
  } catch (const IOError& e) {
    throw IOError(std::string("cannot read IDX file: ") + e.what());
  }
  return parse_idx(bytes.data(), bytes.size(), path);
}

namespace {

void check_images_magic(const IdxArray& a, const std::string& source_name) {
  if (a.magic != 0x00000803)
    throw IOError("IDX file '" + source_name + "': wrong magic number " + hex32(a.magic) +
                  " for images (expected 0x00000803: unsigned bytes, 3 dimensions)" +
                  (a.magic == 0x00000801 ? "; this is a labels file" : ""));
}

// out[i] = in[i] / 255 in float32, bit for bit the division (torchvision's
// ToTensor), for the bytes of [b, e). A vector division limited the whole
// conversion (16 floats per ~6 cycles: a batch of 64 images took 5.3 µs on one
// thread), so where the CPU has FMA the quotient is q = v·r with r = 1/255
// rounded, corrected by one step on its exact residual, q + (v − 255·q)·r, two
// FMAs. That is exactly the division for each of the 256 byte values (checked
// for every one on every instruction set, tests/data/idx_test.cpp); without FMA
// the correction would round twice, so the portable copy divides.
void bytes_to_unit_float(const uint8_t* in, int64_t b, int64_t e, float* out) {
  if (kernels::active_isa() == kernels::Isa::Generic) {
    kernels::simd_for(b, e, [=](int64_t i) { out[i] = static_cast<float>(in[i]) / 255.0f; });
    return;
  }
  kernels::simd_run([=] {
    const float r = 1.0f / 255.0f;
    for (int64_t i = b; i < e; ++i) {
      const float v = static_cast<float>(in[i]);
      const float q = v * r;
      out[i] = __builtin_fmaf(__builtin_fmaf(-q, 255.0f, v), r, q);
    }
  });
}

// v / 255 (bytes_to_unit_float, above) or v: one conversion for every loader
// and batch, so uint8 data converted later gives the same floats as data
// loaded as float.
// On all threads for a batch: the rows were just copied by index_select on all
// threads (the same halves), so each thread converts the part already in its
// own cache. W4's 128×784 batch on 2 threads: 18 µs against 29 µs on one thread
// reading the other's half, and 87 against 170 µs when the host places the two
// vCPUs far apart (docs/performance.md).
void bytes_to_float(const uint8_t* in, int64_t n, bool scale, float* out) {
  kernels::parallel_range(n, [=](int64_t b, int64_t e) {
    if (scale) bytes_to_unit_float(in, b, e, out);
    else kernels::simd_for(b, e, [=](int64_t i) { out[i] = static_cast<float>(in[i]); });
  });
}

}  // namespace

Tensor idx_images(const IdxArray& a, const std::string& source_name, bool scale) {
  check_images_magic(a, source_name);
  const int64_t n = a.dims[0], h = a.dims[1], w = a.dims[2];
  Tensor t = dg::detail::make_tensor({n, 1, h, w}, kFloat);
  bytes_to_float(a.data.data(), static_cast<int64_t>(a.data.size()), scale, t.data_ptr<float>());
  return t;
}

Tensor idx_image_bytes(const IdxArray& a, const std::string& source_name) {
  check_images_magic(a, source_name);
  Tensor t = dg::detail::make_tensor({a.dims[0], 1, a.dims[1], a.dims[2]}, kUInt8);
  if (!a.data.empty()) std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

Tensor to_unit_float(const Tensor& pixels) {
  if (!pixels.defined()) throw Error("to_unit_float: the tensor is undefined");
  if (pixels.dtype() == kFloat) return pixels;
  if (pixels.dtype() != kUInt8)
    throw DTypeError(std::string("to_unit_float: expected uint8 pixels (or float32), got ") +
                     dtype_name(pixels.dtype()));
  Tensor src = pixels.contiguous();
  Tensor out = dg::detail::make_tensor(src.sizes(), kFloat);
  bytes_to_float(src.data_ptr<uint8_t>(), src.numel(), true, out.data_ptr<float>());
  return out;
}

Tensor idx_labels(const IdxArray& a, const std::string& source_name, int64_t num_classes) {
  const std::string what = "IDX file '" + source_name + "'";
  if (a.magic != 0x00000801)
    throw IOError(what + ": wrong magic number " + hex32(a.magic) +
                  " for labels (expected 0x00000801: unsigned bytes, 1 dimension)" +
                  (a.magic == 0x00000803 ? "; this is an images file" : ""));
  Tensor t = dg::detail::make_tensor({a.dims[0]}, kLong);
  int64_t* out = t.data_ptr<int64_t>();
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (num_classes > 0 && a.data[i] >= num_classes)
      throw IOError(what + ": label " + std::to_string(a.data[i]) + " of example " + std::to_string(i) +
                    " is out of range for " + std::to_string(num_classes) + " classes (0 to " +
                    std::to_string(num_classes - 1) + ")");
    out[i] = a.data[i];
  }
  return t;
}

Tensor read_idx_images(const std::string& path, bool scale) { return idx_images(read_idx(path), path, scale); }

Tensor read_idx_labels(const std::string& path, int64_t num_classes) {
  return idx_labels(read_idx(path), path, num_classes);
}

Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes,
                         const std::string& name, ScalarType pixels) {
  if (pixels != kFloat && pixels != kUInt8)
    throw DTypeError(std::string("load_idx_dataset: pixels must be float32 or uint8, got ") + dtype_name(pixels));
  Dataset ds;
  ds.features = pixels == kUInt8 ? idx_image_bytes(read_idx(images_path), images_path) : read_idx_images(images_path);
  ds.targets = read_idx_labels(labels_path, num_classes);
  if (ds.features.size(0) != ds.targets.size(0))
    throw IOError("IDX files do not match: '" + images_path + "' has " + std::to_string(ds.features.size(0)) +
                  " images but '" + labels_path + "' has " + std::to_string(ds.targets.size(0)) + " labels");
  ds.num_classes = num_classes;
  ds.name = name;
  return ds;
}

Dataset load_fashion_mnist(const std::string& dir, bool train, ScalarType pixels) {
  return load_idx_pair(dir, train, "Fashion-MNIST",
                       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                        "Ankle boot"},
                       pixels);
}

Dataset load_mnist(const std::string& dir, bool train, ScalarType pixels) {
  return load_idx_pair(dir, train, "MNIST", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, pixels);
}

}  // namespace dg::data
