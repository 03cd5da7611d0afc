#include "svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common.hpp"

namespace dgcli {

const char* palette(size_t i) {
  static const char* c[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return c[i % 10];
}

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// A short tick label: 0.001, 0.25, 12, 1e-05.
std::string tick_label(double v) {
  if (v == 0) return "0";
  char b[32];
  double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) std::snprintf(b, sizeof b, "%.0e", v);
  else std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// "Nice" linear ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi].
std::vector<double> nice_ticks(double& lo, double& hi, int target = 5) {
  if (!(hi > lo)) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  double raw = (hi - lo) / target;
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

}  // namespace

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  // The legend flows in rows under the title; the plot starts below it.
  const double ml = 62, mr = 16, mb = 44;
  struct Entry { double x, y; };
  std::vector<Entry> legend;
  double lx = ml, ly = 36;
  for (auto& se : series) {
    const double w = 28 + 6.4 * double(se.name.size());
    if (lx + w > o.width - mr && lx > ml) lx = ml, ly += 16;
    legend.push_back({lx, ly});
    lx += w;
  }
  const double mt = series.empty() ? 30 : ly + 12;
  const double pw = o.width - ml - mr, ph = o.height - mt - mb;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double y = s.y[i];
      if (!std::isfinite(y) || !std::isfinite(s.x[i]) || (o.log_y && y <= 0)) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (o.reference_y && (!o.log_y || *o.reference_y > 0) && std::isfinite(y0))
    y0 = std::min(y0, *o.reference_y), y1 = std::max(y1, *o.reference_y);
  std::ostringstream s;
  s << "<svg id=\"" << o.id << "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width
    << "\" height=\"" << o.height << "\" viewBox=\"0 0 " << o.width << " " << o.height << "\" role=\"img\">"
    << "<title>" << html_escape(o.title) << "</title>"
    << "<text x=\"" << num(ml) << "\" y=\"18\" class=\"ct\">" << html_escape(o.title) << "</text>";
  if (!std::isfinite(x0)) {
    s << "<text x=\"" << num(ml + pw / 2) << "\" y=\"" << num(mt + ph / 2) << "\" class=\"empty\" text-anchor=\"middle\">"
      << "no data</text></svg>";
    return s.str();
  }
  if (x1 == x0) x1 = x0 + 1;
  // y ticks: decades on a log axis, nice steps on a linear one.
  std::vector<double> yt;
  double ly0, ly1;
  if (o.log_y) {
    ly0 = std::floor(std::log10(y0)), ly1 = std::ceil(std::log10(y1));
    if (ly1 == ly0) ly1 += 1;
    for (double d = ly0; d <= ly1; d += 1) yt.push_back(std::pow(10, d));
  } else {
    ly0 = y0, ly1 = y1;
    yt = nice_ticks(ly0, ly1);
  }
  double tx0 = x0, tx1 = x1;
  std::vector<double> xt = nice_ticks(tx0, tx1, 6);
  x0 = tx0, x1 = tx1;
  auto X = [&](double x) { return ml + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) {
    double v = o.log_y ? std::log10(y) : y;
    return mt + ph - (v - ly0) / (ly1 - ly0) * ph;
  };
  s << "<rect x=\"" << num(ml) << "\" y=\"" << num(mt) << "\" width=\"" << num(pw) << "\" height=\"" << num(ph)
    << "\" class=\"plot\"/>";
  for (double v : yt) {
    double y = Y(v);
    s << "<line x1=\"" << num(ml) << "\" x2=\"" << num(ml + pw) << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
      << "\" class=\"grid\"/><text x=\"" << num(ml - 6) << "\" y=\"" << num(y + 4)
      << "\" text-anchor=\"end\" class=\"tick\">" << tick_label(v) << "</text>";
  }
  for (double v : xt) {
    double x = X(v);
    s << "<line x1=\"" << num(x) << "\" x2=\"" << num(x) << "\" y1=\"" << num(mt) << "\" y2=\"" << num(mt + ph)
      << "\" class=\"grid\"/><text x=\"" << num(x) << "\" y=\"" << num(mt + ph + 16)
      << "\" text-anchor=\"middle\" class=\"tick\">" << tick_label(v) << "</text>";
  }
  s << "<text x=\"" << num(ml + pw / 2) << "\" y=\"" << num(o.height - 8) << "\" text-anchor=\"middle\" class=\"axis\">"
    << html_escape(o.xlabel) << "</text><text transform=\"translate(14," << num(mt + ph / 2)
    << ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" << html_escape(o.ylabel) << "</text>";
  if (o.reference_y && (!o.log_y || *o.reference_y > 0)) {
    double y = Y(*o.reference_y);
    s << "<line x1=\"" << num(ml) << "\" x2=\"" << num(ml + pw) << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
      << "\" class=\"ref\"/><text x=\"" << num(ml + pw - 4) << "\" y=\"" << num(y - 4)
      << "\" text-anchor=\"end\" class=\"tick\">" << html_escape(o.reference_label) << "</text>";
  }
  for (auto& se : series) {
    std::ostringstream pts;
    size_t n = 0;
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      if (!std::isfinite(se.y[i]) || (o.log_y && se.y[i] <= 0)) continue;
      pts << (n++ ? " " : "") << num(X(se.x[i])) << "," << num(Y(se.y[i]));
    }
    if (n == 0) continue;
    s << "<polyline class=\"series\" fill=\"none\" stroke=\"" << se.color << "\" stroke-width=\"1.6\""
      << (se.dashed ? " stroke-dasharray=\"5,3\"" : "") << " points=\"" << pts.str() << "\"><title>"
      << html_escape(se.name) << "</title></polyline>";
    if (se.markers || n == 1)
      for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i)
        if (std::isfinite(se.y[i]) && (!o.log_y || se.y[i] > 0))
          s << "<circle cx=\"" << num(X(se.x[i])) << "\" cy=\"" << num(Y(se.y[i])) << "\" r=\"2.8\" fill=\""
            << se.color << "\"><title>" << html_escape(se.name) << ": " << tick_label(se.y[i]) << "</title></circle>";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& se = series[i];
    s << "<line x1=\"" << num(legend[i].x) << "\" x2=\"" << num(legend[i].x + 16) << "\" y1=\"" << num(legend[i].y - 4)
      << "\" y2=\"" << num(legend[i].y - 4) << "\" stroke=\"" << se.color << "\" stroke-width=\"3\""
      << (se.dashed ? " stroke-dasharray=\"4,2\"" : "") << "/><text x=\"" << num(legend[i].x + 20) << "\" y=\""
      << num(legend[i].y) << "\" class=\"legend\">" << html_escape(se.name) << "</text>";
  }
  s << "</svg>";
  return s.str();
}

std::string heat_map(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& labels,
                     const std::string& id, const std::string& row_title, const std::string& col_title) {
  const size_t n = counts.size();
  size_t longest = 4;
  for (auto& l : labels) longest = std::max(longest, l.size());
  const double cell = 40, left = 24 + 7.0 * double(longest), top = 96;
  const double w = left + cell * double(n) + 64, h = top + cell * double(n) + 30;  // room for the last rotated label
  std::ostringstream s;
  s << "<svg id=\"" << id << "\" class=\"chart heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(w)
    << "\" height=\"" << num(h) << "\" viewBox=\"0 0 " << num(w) << " " << num(h) << "\" role=\"img\">"
    << "<title>confusion matrix</title>"
    << "<text x=\"" << num(left + cell * double(n) / 2) << "\" y=\"14\" text-anchor=\"middle\" class=\"axis\">"
    << html_escape(col_title) << "</text>"
    << "<text transform=\"translate(12," << num(top + cell * double(n) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" << html_escape(row_title) << "</text>";
  for (size_t c = 0; c < n; ++c) {
    const std::string& l = c < labels.size() ? labels[c] : std::to_string(c);
    s << "<text transform=\"translate(" << num(left + cell * (double(c) + 0.6)) << "," << num(top - 6)
      << ") rotate(-50)\" class=\"tick\">" << html_escape(l) << "</text>"
      << "<text x=\"" << num(left - 6) << "\" y=\"" << num(top + cell * (double(c) + 0.5) + 4)
      << "\" text-anchor=\"end\" class=\"tick\">" << html_escape(l) << "</text>";
  }
  for (size_t r = 0; r < n; ++r) {
    int64_t total = 0;
    for (auto v : counts[r]) total += v;
    for (size_t c = 0; c < n; ++c) {
      double f = total ? double(counts[r][c]) / double(total) : 0;
      // Correct predictions in blue, confusions in red; intensity = fraction of the row.
      int a = int(std::round(255 * (1 - std::pow(f, r == c ? 1.0 : 0.5))));
      char fill[16];
      if (r == c) std::snprintf(fill, sizeof fill, "#%02x%02x%02x", a, std::min(255, a + 40), 255);
      else std::snprintf(fill, sizeof fill, "#%02x%02x%02x", 255, a, a);
      const double x = left + cell * double(c), y = top + cell * double(r);
      s << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(cell) << "\" height=\"" << num(cell)
        << "\" fill=\"" << fill << "\" class=\"cell\"><title>true " << html_escape(labels[r]) << ", predicted "
        << html_escape(labels[c]) << ": " << counts[r][c] << "</title></rect>"
        << "<text x=\"" << num(x + cell / 2) << "\" y=\"" << num(y + cell / 2 + 4)
        << "\" text-anchor=\"middle\" class=\"count\" fill=\"" << (a < 110 ? "#fff" : "#222") << "\">" << counts[r][c]
        << "</text>";
    }
  }
  s << "</svg>";
  return s.str();
}

}  // namespace dgcli
