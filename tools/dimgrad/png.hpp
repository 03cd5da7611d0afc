// dimgrad CLI — a minimal PNG writer (8-bit gray or RGB, zlib-compressed) and
// base64, for images embedded in report.html as data: URIs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dgcli {

// pixels: height × width × channels bytes, row-major; channels 1 (gray) or 3 (RGB).
std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int width, int height, int channels);
std::string base64(const std::vector<uint8_t>& bytes);
// "data:image/png;base64,..."
std::string png_data_uri(const std::vector<uint8_t>& pixels, int width, int height, int channels);

}  // namespace dgcli
