// dimgrad — files: safetensors and .npy read/write, crash-safe (atomic) writes.
//
// Every reader treats its input as untrusted: sizes, offsets and shapes are
// validated before anything large is allocated, and each problem is reported as
// a dg::IOError naming the file, the entry and what is wrong.
//
// Every writer is atomic: the bytes go to `<path>.tmp.<pid>` in the same folder,
// which is fsync'ed and renamed over `path` (then the folder is fsync'ed), so a
// crash while saving leaves the previous file intact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dimgrad/tensor.hpp"

namespace dg::io {

// ------------------------------------------------------------ atomic writes
// Streams bytes into `<path>.tmp.<pid>`; commit() makes them the content of
// `path` in one step. Destroyed without commit(), it removes the temporary file
// and leaves `path` untouched.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // fsync the file, rename it over the target, fsync the folder.
  void commit();
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `content` to `path` atomically (see AtomicFileWriter).
void write_file_atomic(const std::string& path, std::string_view content);
// The whole file; throws IOError when it is missing, unreadable or larger than max_bytes.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = uint64_t(1) << 36);
// Removes `<path>.tmp.<pid>` files left by processes that no longer run (a crash
// mid-save). Called by every atomic save; returns how many were removed.
int remove_stale_temp_files(const std::string& path);

// -------------------------------------------------------------- safetensors
// https://github.com/huggingface/safetensors: 8-byte little-endian header length
// N, N bytes of JSON header {"name": {"dtype", "shape", "data_offsets"}, ...,
// "__metadata__": {str: str}}, then the data buffer, fully covered by tensors.
struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // dimgrad.* keys included
};

// Metadata keys dimgrad writes into every file it saves.
inline constexpr const char* kChecksumKey = "dimgrad.checksum";            // "crc32:xxxxxxxx" of the data buffer
inline constexpr const char* kFormatVersionKey = "dimgrad.format_version";  // "1"
// Headers larger than this are refused (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// Saves float32, float64, int64, bool and uint8 tensors (any strides; written
// contiguous, C order). The checksum and format version are added to metadata.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// The complete file as bytes (what save_safetensors writes).
std::vector<uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                           const std::map<std::string, std::string>& metadata = {});
// Reads and validates a file. F32/F64/I64/BOOL/U8 load as themselves; the other
// integer types (I8, I16, U16, I32, U32) widen to int64 and F16/BF16 to float32.
// When the file carries a dimgrad checksum it is verified.
SafetensorsFile load_safetensors(const std::string& path);
// The same from bytes in memory; source_name is used in error messages.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& source_name = "<memory>");

// ---------------------------------------------------------------------- npy
// NumPy .npy: versions 1.0, 2.0 and 3.0 read; '<f4' '<f8' '<i8' '|b1' '|u1' (plus
// '|i1' '<i2' '<i4' '<u2' '<u4' widened to int64, '<f2' to float32);
// fortran_order True is read and returned in C order. Writes version 1.0.
void save_npy(const std::string& path, const Tensor& t);
std::vector<uint8_t> serialize_npy(const Tensor& t);
Tensor load_npy(const std::string& path);
Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source_name = "<memory>");

}  // namespace dg::io
