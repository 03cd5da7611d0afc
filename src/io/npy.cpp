// NumPy .npy files for single tensors.
//
// Layout: "\x93NUMPY", major, minor, header length (2 bytes LE in version 1.0,
// 4 in 2.0/3.0), then a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' so the data starts at a multiple of 64,
// then the raw elements. The dict is a Python literal, not JSON, so it is read
// by the small strict parser below: only the three keys numpy writes, each once,
// with values of the expected kind; anything else is an error.
#include <algorithm>

#include "io/io_internal.hpp"
#include "tensor/internal.hpp"

namespace dg::io {
namespace {

constexpr size_t kMaxNpyHeader = 1 << 20;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class DictParser {
 public:
  DictParser(std::string_view s, const std::string& what) : s_(s), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = string_literal("a key");
      expect(':');
      bool* seen = key == "descr" ? &seen_descr : key == "fortran_order" ? &seen_order : key == "shape" ? &seen_shape
                                                                                                      : nullptr;
      if (!seen) fail("unknown key '" + key + "' in the header (expected descr, fortran_order, shape)");
      if (*seen) fail("duplicate key '" + key + "' in the header");
      *seen = true;
      if (key == "descr") {
        skip_ws();
        if (peek() == '[') fail("structured dtypes (a descr list) are not supported");
        h.descr = string_literal("the descr value");
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
      } else {
        h.shape = tuple();
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}') fail(std::string("expected ',' or '}' at byte ") + std::to_string(i_) + " of the header");
    }
    ++i_;  // '}'
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
    if (i_ != s_.size()) fail("unexpected text after the header dict at byte " + std::to_string(i_));
    if (!seen_descr || !seen_order || !seen_shape)
      fail(std::string("the header lacks the key '") + (!seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape") +
           "'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& m) const { throw IOError(what_ + ": " + m); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(std::string("expected '") + c + "' at byte " + std::to_string(i_) + " of the header");
    ++i_;
  }
  std::string string_literal(const char* role) {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') fail(std::string("expected a quoted string for ") + role + " at byte " + std::to_string(i_));
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail("escape sequences in header strings are not supported");
      ++i_;
    }
    if (i_ >= s_.size()) fail("unterminated string in the header");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool boolean() {
    skip_ws();
    if (s_.substr(i_, 4) == "True") return i_ += 4, true;
    if (s_.substr(i_, 5) == "False") return i_ += 5, false;
    fail("fortran_order must be True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("shape must be a tuple of non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, int64_t(10), &v) || __builtin_add_overflow(v, int64_t(peek() - '0'), &v))
          fail("a shape dimension is too large for int64");
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 long literal
      if (dims.size() >= size_t(kMaxDims)) fail("shape has more than 8 dimensions (dimgrad tensors have at most 8)");
      dims.push_back(v);
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in the shape tuple at byte " + std::to_string(i_));
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  const std::string& what_;
  size_t i_ = 0;
};

// numpy's descr (byte order + kind + size) → the safetensors-style on-disk type.
const detail::DiskType& disk_type_of(const std::string& descr, const std::string& what) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"f4", "F32"}, {"f8", "F64"}, {"i8", "I64"}, {"b1", "BOOL"}, {"f2", "F16"}, {"u1", "U8"},
      {"i1", "I8"},  {"i2", "I16"}, {"u2", "U16"}, {"i4", "I32"},  {"u4", "U32"},
  };
  if (descr.size() == 3) {
    const char order = descr[0];
    const std::string code = descr.substr(1);
    for (const auto& [c, name] : kMap) {
      if (code != c) continue;
      const auto* dt = detail::find_disk_type(name);
      if (order == '>' && dt->size > 1)
        throw IOError(what + ": big-endian data ('" + descr + "') is not supported; save it little-endian");
      if (order == '<' || order == '|' || order == '=' || order == '>') return *dt;
    }
  }
  throw IOError(what + ": unsupported dtype '" + descr +
                "' (dimgrad reads '<f4' '<f8' '<i8' '|b1' '|u1', and '<f2' '|i1' '<i2' '<u2' '<i4' '<u4')");
}

const char* descr_of(ScalarType t) {
  switch (t) {
    case kFloat: return "<f4";
    case kDouble: return "<f8";
    case kLong: return "<i8";
    case kBool: return "|b1";
    case kUInt8: return "|u1";
  }
  return "?";
}

std::string npy_header(const Tensor& t) {
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string dict = std::string("{'descr': '") + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': " +
                     shape + ", }";
  // Pad so magic(6) + version(2) + length(2) + dict + '\n' is a multiple of 64, as
  // numpy does. With at most 8 dimensions the dict is far below version 1.0's
  // 65535-byte limit, so version 2.0 is never needed for writing.
  const size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  const auto len = static_cast<uint16_t>(dict.size());
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  return out + dict;
}

}  // namespace

Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source_name) {
  const std::string what = "npy file '" + source_name + "'";
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0)
    throw IOError(what + ": not a .npy file (missing the \\x93NUMPY magic string)");
  const uint8_t major = data[6], minor = data[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    throw IOError(what + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                  " (dimgrad reads 1.0, 2.0 and 3.0)");
  const size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) throw IOError(what + ": truncated before the end of the header length");
  const uint64_t hlen = major == 1 ? detail::load_le<uint16_t>(data + 8) : detail::load_le<uint32_t>(data + 8);
  if (hlen > kMaxNpyHeader)
    throw IOError(what + ": header length " + std::to_string(hlen) + " is larger than the limit of " +
                  std::to_string(kMaxNpyHeader) + " bytes");
  if (hlen > size - prefix)
    throw IOError(what + ": header length " + std::to_string(hlen) + " runs past the end of the file (" +
                  std::to_string(size) + " bytes; truncated file?)");
  std::string_view text(reinterpret_cast<const char*>(data + prefix), hlen);
  NpyHeader h = DictParser(text, what).parse();
  const detail::DiskType& dt = disk_type_of(h.descr, what);

  int64_t numel = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(numel, d, &numel))
      throw IOError(what + ": the number of elements of shape " + shape_str(h.shape) + " overflows int64");
  if (detail::strides_overflow(h.shape))
    throw IOError(what + ": shape " + shape_str(h.shape) + " is too large (its strides overflow int64)");
  uint64_t nbytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dt.size, &nbytes))
    throw IOError(what + ": the byte size of shape " + shape_str(h.shape) + " overflows");
  const uint64_t have = size - prefix - hlen;
  if (have != nbytes)
    throw IOError(what + ": dtype '" + h.descr + "' with shape " + shape_str(h.shape) + " needs " +
                  std::to_string(nbytes) + " data bytes, the file holds " + std::to_string(have) +
                  (have < nbytes ? " (truncated file?)" : ""));

  // Fortran order lays the elements out as the C order of the reversed shape.
  std::vector<int64_t> stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  Tensor t = dg::detail::make_tensor(stored, dt.loads_as);
  detail::convert_into(dt, data + prefix + hlen, numel, t.raw_data());
  if (h.fortran_order && t.dim() > 1) {
    std::vector<int64_t> perm(t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) perm[i] = t.dim() - 1 - i;
    t = t.permute(perm).contiguous();
  }
  return t;
}

Tensor load_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> serialize_npy(const Tensor& t) {
  if (!t.defined()) throw IOError("save_npy: the tensor is undefined");
  Tensor c = t.detach().contiguous();
  std::string header = npy_header(c);
  std::vector<uint8_t> out(header.begin(), header.end());
  auto* b = static_cast<const uint8_t*>(c.raw_data());
  out.insert(out.end(), b, b + c.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) throw IOError("save_npy: the tensor is undefined");
  Tensor c = t.detach().contiguous();
  std::string header = npy_header(c);
  AtomicFileWriter w(path);
  w.write(header);
  w.write(c.raw_data(), c.nbytes());
  w.commit();
}

}  // namespace dg::io
