// safetensors read/write with strict validation and a CRC32 integrity check.
//
// Layout: [8-byte little-endian N][N bytes of JSON header, space-padded to a
// multiple of 8][data buffer]. Reading validates every size and offset against
// the real file size before it allocates a tensor, so a hostile header can
// neither make us read out of bounds nor allocate more than the file holds.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "io/io_internal.hpp"
#include "tensor/internal.hpp"

namespace dg::io {
namespace detail {

uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  return static_cast<uint32_t>(::crc32_z(crc, static_cast<const Bytef*>(data), n));
}

std::string checksum_text(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return std::string("crc32:") + buf;
}

}  // namespace detail

namespace {

using detail::DiskType;
using detail::StEntry;

// Where the bytes come from: memory (parse_*) or a file read piece by piece
// (load_*), so a large checkpoint is read straight into its tensors.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  virtual void read(uint64_t offset, void* dst, size_t n) const = 0;
};

class MemorySource : public Source {
 public:
  MemorySource(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint64_t size() const override { return n_; }
  void read(uint64_t offset, void* dst, size_t n) const override {
    if (n) std::memcpy(dst, p_ + offset, n);
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

class FileSource : public Source {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IOError("cannot open safetensors file '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw IOError("cannot read safetensors file '" + path + "': not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n) const override {
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      ssize_t r = ::pread(fd_, p, std::min<size_t>(n, size_t(1) << 30), static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        throw IOError("cannot read safetensors file '" + path_ + "': " +
                      (r == 0 ? std::string("the file became shorter while reading") : std::strerror(errno)));
      p += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct Planned {
  const StEntry* entry;
  const DiskType* type;
  std::vector<int64_t> shape;
  int64_t numel;
};

SafetensorsFile parse_source(const Source& src, const std::string& source_name) {
  const std::string what = "safetensors file '" + source_name + "'";
  const uint64_t size = src.size();
  if (size < 8)
    throw IOError(what + ": only " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  uint8_t len_bytes[8];
  src.read(0, len_bytes, 8);
  const uint64_t n = detail::load_le<uint64_t>(len_bytes);
  if (n > kMaxSafetensorsHeader)
    throw IOError(what + ": header length " + std::to_string(n) + " is larger than the limit of " +
                  std::to_string(kMaxSafetensorsHeader) + " bytes (not a safetensors file, or corrupted)");
  if (n > size - 8)
    throw IOError(what + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                  std::to_string(size - 8) + " bytes follow the length field; truncated file?)");
  std::string text(n, '\0');
  src.read(8, text.data(), n);
  detail::StHeader header = detail::parse_safetensors_header(text, what);
  text = std::string();

  // Every size and offset is checked against the real buffer before any tensor is allocated.
  const uint64_t data_start = 8 + n, buffer_size = size - data_start;
  std::vector<Planned> plan;
  plan.reserve(header.entries.size());
  for (const StEntry& e : header.entries) {
    const std::string where = what + ": tensor '" + e.name + "'";
    const DiskType* dt = detail::find_disk_type(e.dtype);
    if (!dt)
      throw IOError(where + ": unsupported dtype '" + e.dtype +
                    "' (dimgrad reads F32, F64, I64, BOOL, F16, BF16, U8, I8, I16, U16, I32, U32)");
    Planned p{&e, dt, {}, 1};
    for (uint64_t d : e.shape) {
      if (d > uint64_t(INT64_MAX)) throw IOError(where + ": dimension " + std::to_string(d) + " is too large");
      p.shape.push_back(static_cast<int64_t>(d));
      if (__builtin_mul_overflow(p.numel, static_cast<int64_t>(d), &p.numel))
        throw IOError(where + ": the number of elements of shape " + shape_str(p.shape) + "... overflows int64");
    }
    if (detail::strides_overflow(p.shape))
      throw IOError(where + ": shape " + shape_str(p.shape) + " is too large (its strides overflow int64)");
    uint64_t nbytes;
    if (__builtin_mul_overflow(static_cast<uint64_t>(p.numel), dt->size, &nbytes))
      throw IOError(where + ": the byte size of shape " + shape_str(p.shape) + " overflows");
    if (e.begin > e.end)
      throw IOError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    "] end before they begin");
    if (e.end > buffer_size)
      throw IOError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    "] run past the end of the data buffer (" + std::to_string(buffer_size) +
                    " bytes; truncated file?)");
    if (e.end - e.begin != nbytes)
      throw IOError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] hold " +
                    std::to_string(e.end - e.begin) + " bytes but dtype " + e.dtype + " with shape " +
                    shape_str(p.shape) + " needs " + std::to_string(nbytes));
    plan.push_back(std::move(p));
  }
  // The format requires the tensors to tile the buffer exactly: no overlap, no hole.
  std::sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
    return a.entry->begin != b.entry->begin ? a.entry->begin < b.entry->begin : a.entry->end < b.entry->end;
  });
  uint64_t covered = 0;
  const StEntry* prev = nullptr;
  for (const Planned& p : plan) {
    if (p.entry->begin < covered)
      throw IOError(what + ": tensors '" + prev->name + "' [" + std::to_string(prev->begin) + ", " +
                    std::to_string(prev->end) + ") and '" + p.entry->name + "' [" + std::to_string(p.entry->begin) +
                    ", " + std::to_string(p.entry->end) + ") overlap in the data buffer");
    if (p.entry->begin > covered)
      throw IOError(what + ": bytes [" + std::to_string(covered) + ", " + std::to_string(p.entry->begin) +
                    ") of the data buffer belong to no tensor (a hole before '" + p.entry->name + "')");
    covered = p.entry->end;
    if (p.entry->end > p.entry->begin || !prev) prev = p.entry;
  }
  if (covered != buffer_size)
    throw IOError(what + ": the data buffer has " + std::to_string(buffer_size - covered) +
                  " trailing bytes after the last tensor (" + std::to_string(buffer_size) + " bytes, " +
                  std::to_string(covered) + " used)");

  uint32_t stored_crc = 0;
  auto it = header.metadata.find(kChecksumKey);
  const bool has_crc = it != header.metadata.end();
  if (has_crc) {
    const std::string& v = it->second;
    char* end = nullptr;
    if (v.size() != 14 || v.compare(0, 6, "crc32:") != 0 ||
        (stored_crc = static_cast<uint32_t>(std::strtoul(v.c_str() + 6, &end, 16)), end != v.c_str() + 14))
      throw IOError(what + ": malformed " + std::string(kChecksumKey) + " '" + v + "' (expected crc32:xxxxxxxx)");
  }

  // Read in buffer order so the checksum runs over the bytes as they lie.
  SafetensorsFile out;
  uint32_t crc = detail::crc32_update(0, nullptr, 0);
  std::vector<uint8_t> scratch;
  for (const Planned& p : plan) {
    Tensor t = dg::detail::make_tensor(p.shape, p.type->loads_as);
    const size_t nbytes = p.entry->end - p.entry->begin;
    const bool direct = element_size(p.type->loads_as) == p.type->size && p.type->loads_as != kBool;
    uint8_t* dst = direct ? static_cast<uint8_t*>(t.raw_data()) : (scratch.resize(nbytes), scratch.data());
    src.read(data_start + p.entry->begin, dst, nbytes);
    crc = detail::crc32_update(crc, dst, nbytes);
    if (!direct) detail::convert_into(*p.type, dst, p.numel, t.raw_data());
    out.tensors.emplace(p.entry->name, std::move(t));
  }
  if (has_crc && crc != stored_crc)
    throw IOError(what + ": checksum mismatch (stored " + it->second + ", computed " + detail::checksum_text(crc) +
                  "): the file is corrupted or was not completely written");
  out.metadata = std::move(header.metadata);
  return out;
}

// ---- writing
struct Prepared {
  std::string header;  // 8-byte length + padded JSON
  std::vector<std::pair<std::string, Tensor>> tensors;  // contiguous, in buffer order
};

Prepared prepare(const std::map<std::string, Tensor>& tensors, const std::map<std::string, std::string>& metadata) {
  Prepared p;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw IOError("save_safetensors: '__metadata__' cannot be a tensor name");
    if (!t.defined()) throw IOError("save_safetensors: tensor '" + name + "' is undefined");
    p.tensors.emplace_back(name, t.detach().contiguous());
  }
  // Buffer order as the reference writer: larger elements first, then by name,
  // so every tensor starts at an offset aligned to its element size.
  std::stable_sort(p.tensors.begin(), p.tensors.end(), [](const auto& a, const auto& b) {
    return a.second.element_size() > b.second.element_size();
  });
  uint32_t crc = detail::crc32_update(0, nullptr, 0);
  for (const auto& [name, t] : p.tensors) crc = detail::crc32_update(crc, t.raw_data(), t.nbytes());

  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  meta[kChecksumKey] = detail::checksum_text(crc);
  meta[kFormatVersionKey] = "1";
  h["__metadata__"] = std::move(meta);
  uint64_t offset = 0;
  for (const auto& [name, t] : p.tensors) {
    const uint64_t end = offset + t.nbytes();
    h[name] = {{"dtype", detail::disk_name(t.dtype())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = h.dump();
  } catch (const nlohmann::json::exception& e) {
    throw IOError(std::string("save_safetensors: a tensor name or metadata string is not valid UTF-8 (") + e.what() +
                  ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad with spaces to a multiple of 8, as the reference writer
  const uint64_t n = text.size();
  p.header.resize(8);
  std::memcpy(p.header.data(), &n, 8);
  p.header += text;
  return p;
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& source_name) {
  if (!data && size) throw IOError("parse_safetensors: null data");
  return parse_source(MemorySource(data, size), source_name);
}

SafetensorsFile load_safetensors(const std::string& path) { return parse_source(FileSource(path), path); }

std::vector<uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata);
  std::vector<uint8_t> out(p.header.begin(), p.header.end());
  for (const auto& [name, t] : p.tensors) {
    auto* b = static_cast<const uint8_t*>(t.raw_data());
    out.insert(out.end(), b, b + t.nbytes());
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata);
  AtomicFileWriter w(path);
  w.write(p.header);
  for (const auto& [name, t] : p.tensors) w.write(t.raw_data(), t.nbytes());
  w.commit();
}

}  // namespace dg::io
