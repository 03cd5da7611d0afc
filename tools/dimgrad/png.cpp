#include "png.hpp"

#include <stdexcept>

#include <zlib.h>

namespace dgcli {

namespace {
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}
void chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, uint32_t(data.size()));
  size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  // The CRC covers the chunk type and data, not the length.
  uLong crc = crc32(0L, out.data() + start, uInt(out.size() - start));
  put_u32(out, uint32_t(crc));
}
}  // namespace

std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int width, int height, int channels) {
  if ((channels != 1 && channels != 3) || width <= 0 || height <= 0 ||
      pixels.size() != size_t(width) * size_t(height) * size_t(channels))
    throw std::invalid_argument("encode_png: pixel buffer does not match width × height × channels");
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, uint32_t(width));
  put_u32(ihdr, uint32_t(height));
  ihdr.push_back(8);                        // bit depth
  ihdr.push_back(channels == 1 ? 0 : 2);    // colour type: gray / RGB
  ihdr.insert(ihdr.end(), {0, 0, 0});       // deflate, adaptive filtering, no interlace
  chunk(out, "IHDR", ihdr);
  // Each row starts with its filter type (0 = none).
  const size_t row = size_t(width) * size_t(channels);
  std::vector<uint8_t> raw;
  raw.reserve((row + 1) * size_t(height));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), pixels.begin() + long(y * row), pixels.begin() + long((y + 1) * row));
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::vector<uint8_t> z(zlen);
  if (compress2(z.data(), &zlen, raw.data(), uLong(raw.size()), 9) != Z_OK)
    throw std::runtime_error("encode_png: zlib compression failed");
  z.resize(zlen);
  chunk(out, "IDAT", z);
  chunk(out, "IEND", {});
  return out;
}

std::string base64(const std::vector<uint8_t>& b) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string r;
  r.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = uint32_t(b[i]) << 16;
    if (i + 1 < b.size()) v |= uint32_t(b[i + 1]) << 8;
    if (i + 2 < b.size()) v |= b[i + 2];
    r += tbl[(v >> 18) & 63];
    r += tbl[(v >> 12) & 63];
    r += i + 1 < b.size() ? tbl[(v >> 6) & 63] : '=';
    r += i + 2 < b.size() ? tbl[v & 63] : '=';
  }
  return r;
}

std::string png_data_uri(const std::vector<uint8_t>& pixels, int width, int height, int channels) {
  return "data:image/png;base64," + base64(encode_png(pixels, width, height, channels));
}

}  // namespace dgcli
