// dimgrad CLI — inline SVG charts for report.html: line charts with axes, ticks
// and a legend (linear or log y), and a heat map. No scripts, no network.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dgcli {

struct Series {
  std::string name;
  std::string color;
  std::vector<double> x, y;
  bool markers = false;  // draw a dot at each point (per-epoch values)
  bool dashed = false;
};

struct ChartOptions {
  std::string id;     // element id (tests look charts up by it)
  std::string title;
  std::string xlabel, ylabel;
  bool log_y = false;
  int width = 560, height = 300;
  std::optional<double> reference_y;  // a dotted horizontal guide line
  std::string reference_label;
};

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o);

// A square matrix of counts as coloured cells (colour: the count's fraction of its
// row), with row and column labels.
std::string heat_map(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& labels,
                     const std::string& id, const std::string& row_title, const std::string& col_title);

// The i-th colour of a palette that stays distinguishable for ~10 series.
const char* palette(size_t i);

}  // namespace dgcli
