// CSV data sets: numeric feature columns and one label column.
//
// Fields may be double-quoted ("" is a quote inside); blank lines are skipped.
// Numbers are parsed with std::from_chars (locale-independent, exact rounding).
// Every error names the line and column where it was found.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "dimgrad/data.hpp"
#include "dimgrad/io.hpp"
#include "tensor/internal.hpp"

namespace dg::data {
namespace {

struct Field {
  std::string text;
  size_t column;  // 1-based character position where the field starts
};

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return std::string(s.substr(a, b - a));
}

class CsvParser {
 public:
  CsvParser(std::string_view text, char delim, const std::string& what) : text_(text), delim_(delim), what_(what) {}

  // The next non-blank line split into fields; false at the end of the text.
  bool next_row(std::vector<Field>& row) {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view line = text_.substr(pos_, end - pos_);
      pos_ = end + 1;
      ++line_no_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      split(line, row);
      return true;
    }
    return false;
  }
  size_t line() const { return line_no_; }
  [[noreturn]] void fail(size_t column, const std::string& msg) const {
    throw IOError(what_ + ", line " + std::to_string(line_no_) + (column ? ", column " + std::to_string(column) : "") +
                  ": " + msg);
  }

 private:
  void split(std::string_view line, std::vector<Field>& row) {
    row.clear();
    size_t i = 0;
    for (;;) {
      const size_t start = i;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delim_) ++i;
      if (i < line.size() && line[i] == '"') {
        std::string value;
        ++i;
        for (;;) {
          if (i >= line.size()) fail(start + 1, "unterminated quoted field");
          if (line[i] == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
              value += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          value += line[i++];
        }
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delim_) ++i;
        if (i < line.size() && line[i] != delim_) fail(i + 1, "unexpected character after a closing quote");
        row.push_back({value, start + 1});
      } else {
        size_t end = line.find(delim_, start);
        if (end == std::string_view::npos) end = line.size();
        row.push_back({trim(line.substr(start, end - start)), start + 1});
        i = end;
      }
      if (i >= line.size()) break;
      ++i;  // the delimiter
    }
  }

  std::string_view text_;
  char delim_;
  const std::string& what_;
  size_t pos_ = 0, line_no_ = 0;
};

bool parse_number(const std::string& s, double& v) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto [p, ec] = std::from_chars(b, e, v);
  return ec == std::errc() && p == e;
}

bool parse_class_index(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  v = std::stoll(s);
  return true;
}

}  // namespace

Dataset parse_csv(std::string_view text, const CsvOptions& opts, const std::string& source_name) {
  const std::string what = "CSV file '" + source_name + "'";
  CsvParser p(text, opts.delimiter, what);
  std::vector<Field> row;
  if (!p.next_row(row)) throw IOError(what + ": no data (the file is empty)");
  const size_t ncols = row.size();
  if (ncols < 2) p.fail(0, "only 1 column; a data set needs feature columns and a label column");

  // The label column: by name (needs a header) or by index.
  std::vector<std::string> names;
  bool header = opts.header == CsvOptions::Header::Yes || !opts.label_name.empty();
  int64_t label = -1;
  if (opts.label_name.empty()) {
    label = opts.label_index < 0 ? static_cast<int64_t>(ncols) + opts.label_index : opts.label_index;
    if (label < 0 || label >= static_cast<int64_t>(ncols))
      p.fail(0, "label column index " + std::to_string(opts.label_index) + " is out of range for " +
                    std::to_string(ncols) + " columns");
    if (opts.header == CsvOptions::Header::Auto) {
      double v;
      for (size_t c = 0; c < ncols; ++c)
        if (static_cast<int64_t>(c) != label && !parse_number(row[c].text, v)) header = true;
    }
  }
  if (header) {
    for (const auto& f : row) names.push_back(f.text);
    if (!opts.label_name.empty()) {
      auto it = std::find(names.begin(), names.end(), opts.label_name);
      if (it == names.end()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        p.fail(0, "no column named '" + opts.label_name + "' in the header (columns: " + list + ")");
      }
      label = it - names.begin();
    }
    if (!p.next_row(row)) throw IOError(what + ": a header but no data rows");
  }

  auto column_name = [&](size_t c) {
    return names.empty() ? std::string() : " ('" + names[c] + "')";
  };
  std::vector<float> features;
  std::vector<std::string> labels;
  do {
    if (row.size() != ncols)
      p.fail(0, std::to_string(row.size()) + " fields, expected " + std::to_string(ncols) + " as in the first row");
    for (size_t c = 0; c < ncols; ++c) {
      if (static_cast<int64_t>(c) == label) {
        if (row[c].text.empty()) p.fail(row[c].column, "empty label" + column_name(c));
        labels.push_back(row[c].text);
        continue;
      }
      double v;
      if (!parse_number(row[c].text, v))
        p.fail(row[c].column, "'" + row[c].text + "' is not a number" + column_name(c));
      if (!std::isfinite(v) || std::abs(v) > 3.4028234663852886e38)
        p.fail(row[c].column, "'" + row[c].text + "' is not a finite float32 number" + column_name(c));
      features.push_back(static_cast<float>(v));
    }
  } while (p.next_row(row));

  Dataset ds;
  const int64_t n = static_cast<int64_t>(labels.size()), nf = static_cast<int64_t>(ncols) - 1;
  ds.features = dg::detail::make_tensor({n, nf}, kFloat);
  std::copy(features.begin(), features.end(), ds.features.data_ptr<float>());
  ds.targets = dg::detail::make_tensor({n}, kLong);
  int64_t* y = ds.targets.data_ptr<int64_t>();
  // Integer labels are class indices; otherwise every distinct label is a class name.
  bool integers = opts.class_names.empty();
  int64_t max_label = -1;
  for (int64_t i = 0; i < n && integers; ++i) {
    integers = parse_class_index(labels[i], y[i]);
    if (integers) max_label = std::max(max_label, y[i]);
  }
  if (integers) {
    ds.num_classes = max_label + 1;
  } else {
    std::map<std::string, int64_t> index;
    if (opts.class_names.empty()) {
      for (const auto& l : labels) index.emplace(l, 0);
      for (auto& [name, i] : index) {
        i = static_cast<int64_t>(ds.class_names.size());
        ds.class_names.push_back(name);
      }
    } else {
      ds.class_names = opts.class_names;
      for (size_t i = 0; i < ds.class_names.size(); ++i) index.emplace(ds.class_names[i], static_cast<int64_t>(i));
    }
    for (int64_t i = 0; i < n; ++i) {
      auto it = index.find(labels[i]);
      if (it == index.end())
        throw IOError(what + ": label '" + labels[i] + "' of data row " + std::to_string(i + 1) +
                      " is not one of the " + std::to_string(index.size()) + " known classes");
      y[i] = it->second;
    }
    ds.num_classes = static_cast<int64_t>(ds.class_names.size());
  }
  ds.name = "csv:" + source_name;
  return ds;
}

Dataset load_csv(const std::string& path, const CsvOptions& opts) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_file(path);
  } catch (const IOError& e) {
    throw IOError(std::string("cannot read CSV file: ") + e.what());
  }
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), opts, path);
}

}  // namespace dg::data
