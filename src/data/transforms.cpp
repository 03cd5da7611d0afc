// Batch transforms: normalize, random crop with padding, random horizontal flip.
// They edit the batch buffer in place (it is a fresh copy made by the loader),
// drawing their randomness from the batch's own generator, in example order.
#include <algorithm>
#include <cstring>

#include "dimgrad/data.hpp"

namespace dg::data {
namespace {

void check_batch(const Tensor& x, const char* who, int64_t min_dim) {
  if (!x.defined() || x.dtype() != kFloat || !x.is_contiguous() || x.dim() < min_dim)
    throw ShapeError(std::string(who) + ": expected a contiguous float32 batch with at least " +
                     std::to_string(min_dim) + " dimensions" +
                     (x.defined() ? ", got " + std::string(dtype_name(x.dtype())) + " " + shape_str(x.sizes()) : ""));
}

class NormalizeT : public Transform {
 public:
  NormalizeT(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
    if (mean_.empty() || mean_.size() != std_.size())
      throw Error("Normalize: mean and std need the same, nonzero number of values (got " +
                  std::to_string(mean_.size()) + " and " + std::to_string(std_.size()) + ")");
    for (double s : std_)
      if (!(s > 0)) throw Error("Normalize: every std must be positive, got " + std::to_string(s));
  }
  void apply(Tensor& x, Rng&) const override {
    check_batch(x, "Normalize", 2);
    const int64_t b = x.size(0), c = x.size(1), inner = b && c ? x.numel() / (b * c) : 0;
    if (mean_.size() != 1 && static_cast<int64_t>(mean_.size()) != c)
      throw ShapeError("Normalize: " + std::to_string(mean_.size()) + " means for a batch with " + std::to_string(c) +
                       " channels, shape " + shape_str(x.sizes()));
    float* p = x.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        const size_t k = mean_.size() == 1 ? 0 : static_cast<size_t>(ch);
        const float m = static_cast<float>(mean_[k]), inv = static_cast<float>(1.0 / std_[k]);
        float* row = p + (i * c + ch) * inner;
        for (int64_t j = 0; j < inner; ++j) row[j] = (row[j] - m) * inv;
      }
  }
  std::string name() const override { return "Normalize"; }

 private:
  std::vector<double> mean_, std_;
};

class RandomCropT : public Transform {
 public:
  explicit RandomCropT(int64_t padding) : pad_(padding) {
    if (padding < 0) throw Error("RandomCrop: padding must be >= 0, got " + std::to_string(padding));
  }
  void apply(Tensor& x, Rng& rng) const override {
    check_batch(x, "RandomCrop", 4);
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    std::vector<float> src(static_cast<size_t>(c * h * w));
    float* p = x.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      // Window offset in the padded image; (pad, pad) is the unshifted image.
      const int64_t dy = static_cast<int64_t>(uniform_below(rng, 2 * pad_ + 1)) - pad_;
      const int64_t dx = static_cast<int64_t>(uniform_below(rng, 2 * pad_ + 1)) - pad_;
      if (dy == 0 && dx == 0) continue;
      float* img = p + i * c * h * w;
      std::memcpy(src.data(), img, src.size() * sizeof(float));
      // out[y][x] = in[y + dy][x + dx] where that lies inside the image, else 0 (the padding).
      const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min<int64_t>(w, w - dx);
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h; ++y) {
          float* out = img + (ch * h + y) * w;
          const int64_t sy = y + dy;
          if (sy < 0 || sy >= h || x1 <= x0) {
            std::fill(out, out + w, 0.0f);
            continue;
          }
          std::fill(out, out + x0, 0.0f);
          std::memcpy(out + x0, src.data() + (ch * h + sy) * w + x0 + dx, static_cast<size_t>(x1 - x0) * sizeof(float));
          std::fill(out + x1, out + w, 0.0f);
        }
    }
  }
  std::string name() const override { return "RandomCrop(padding=" + std::to_string(pad_) + ")"; }

 private:
  int64_t pad_;
};

class RandomHorizontalFlipT : public Transform {
 public:
  explicit RandomHorizontalFlipT(double p) : p_(p) {
    if (!(p >= 0 && p <= 1)) throw Error("RandomHorizontalFlip: p must be in [0, 1], got " + std::to_string(p));
  }
  void apply(Tensor& x, Rng& rng) const override {
    check_batch(x, "RandomHorizontalFlip", 4);
    const int64_t b = x.size(0), rows = x.size(1) * x.size(2), w = x.size(3);
    float* p = x.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
      if (u >= p_) continue;
      for (int64_t r = 0; r < rows; ++r) std::reverse(p + (i * rows + r) * w, p + (i * rows + r + 1) * w);
    }
  }
  std::string name() const override { return "RandomHorizontalFlip(p=" + std::to_string(p_) + ")"; }

 private:
  double p_;
};

}  // namespace

TransformPtr Normalize(std::vector<double> mean, std::vector<double> std) {
  return std::make_shared<NormalizeT>(std::move(mean), std::move(std));
}
TransformPtr RandomCrop(int64_t padding) { return std::make_shared<RandomCropT>(padding); }
TransformPtr RandomHorizontalFlip(double p) { return std::make_shared<RandomHorizontalFlipT>(p); }

}  // namespace dg::data
