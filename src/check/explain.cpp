// explain: the backward graph of a loss in dimension-analysis form.
#include "dimgrad/explain.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"

namespace dg {
namespace {

using autograd::Node;

std::vector<std::string> split_formulas(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ';') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  for (auto& f : out) {
    size_t b = f.find_first_not_of(' '), e = f.find_last_not_of(' ');
    f = b == std::string::npos ? "" : f.substr(b, e - b + 1);
  }
  return out;
}

bool is_word_char(unsigned char c) { return std::isalnum(c) || c == '_'; }

struct Symbol {
  std::string name;
  Shape shape;
};

class Explainer {
 public:
  Explainer(const Tensor& root, const ExplainOptions& opt) : root_(root), opt_(opt) {
    if (!root.defined()) throw Error("explain: the tensor is undefined");
    if (!root.grad_fn())
      throw Error("explain: the tensor has no backward graph (it is a leaf or was computed without grad); compute it "
                  "from tensors that require grad, with grad mode on");
    autograd::visit_graph(root, [&](Node& n) { order_.push_back(&n); });
    name_everything();
    choose_letters();
  }

  std::string text(bool markdown);
  std::string dot();
  std::vector<ExplainedGradient> gradients();

 private:
  // ---- naming
  std::string leaf_name(Node* acc) {
    auto* a = static_cast<autograd::AccumulateGrad*>(acc);
    auto it = leaf_names_.find(acc);
    if (it != leaf_names_.end()) return it->second;
    std::string n = a->leaf()->name;
    if (n.empty()) n = "P" + std::to_string(++leaf_counter_);
    return leaf_names_[acc] = n;
  }

  static std::string letter_for(OpKind k) {
    switch (k) {
      case OpKind::Mm:
      case OpKind::Bmm: return "S";
      case OpKind::Relu:
      case OpKind::BatchNormRelu:
      case OpKind::LinearRelu:
      case OpKind::Tanh:
      case OpKind::Sigmoid: return "H";
      case OpKind::Softmax: return "P";
      case OpKind::LogSoftmax: return "LP";
      default: return "Z";
    }
  }

  void name_everything() {
    std::vector<Node*> fwd;
    for (Node* n : order_)
      if (n->op() != OpKind::AccumulateGrad) fwd.push_back(n);
    std::sort(fwd.begin(), fwd.end(), [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); });
    std::map<std::string, int> counts;
    for (Node* n : fwd) {
      std::string base = letter_for(n->op());
      int c = ++counts[base];
      std::string name = c == 1 ? base : base + std::to_string(c);
      if (n == root_.grad_fn().get() && root_.numel() == 1) name = "L";
      out_names_[{n, 0}] = name;
      for (size_t o = 1; o < n->num_outputs(); ++o) out_names_[{n, static_cast<uint32_t>(o)}] = name + "_" + std::to_string(o);
    }
    for (Node* n : order_)
      for (const auto& e : n->next_edges)
        if (e.node) ++uses_[{e.node.get(), e.input_nr}];
    fwd_ = fwd;
  }

  std::string input_name(Node* n, size_t i) {
    const auto& e = n->next_edges[i];
    if (e.node) {
      if (e.node->op() == OpKind::AccumulateGrad) return leaf_name(e.node.get());
      return out_names_[{e.node.get(), e.input_nr}];
    }
    // A constant input (data, labels): named by its shape, X for the first.
    std::string key = shape_str(n->input_meta[i].shape);
    auto it = const_names_.find(key);
    if (it != const_names_.end()) return it->second;
    std::string name = const_names_.empty() ? "X" : "X" + std::to_string(const_names_.size() + 1);
    return const_names_[key] = name;
  }

  // ---- dimension letters
  void choose_letters() {
    for (const auto& [size, name] : opt_.dim_names) letters_[size] = name;
    used_.clear();
    for (auto& [s, l] : letters_) used_.insert(l);
    auto assign = [&](int64_t size, const std::string& l) {
      if (size <= 1 || letters_.count(size) || used_.count(l)) return;
      letters_[size] = l;
      used_.insert(l);
    };
    // Batch: the first dim of the first input of the first op (the data).
    if (!fwd_.empty()) {
      for (size_t i = 0; i < fwd_[0]->input_meta.size(); ++i) {
        const Shape& s = fwd_[0]->input_meta[i].shape;
        if (s.size() >= 2) {
          assign(s[0], "N");
          if (s.size() == 4) {
            assign(s[2], "H");
            assign(s[3], "W");
          }
          break;
        }
      }
    }
    // Classes: the last dim of what the loss-producing op consumed.
    Node* last = root_.grad_fn().get();
    if (last && !last->input_meta.empty()) {
      const Shape& s = last->input_meta[0].shape;
      if (s.size() >= 2) assign(s.back(), "C");
    }
    static const char* pool[] = {"D", "K", "M", "F", "G", "E", "Q", "R", "T", "U", "V", "J", "A", "B"};
    size_t next = 0;
    auto visit = [&](IntArrayRef s) {
      for (int64_t d : s) {
        if (d <= 1 || letters_.count(d)) continue;
        while (next < std::size(pool) && used_.count(pool[next])) ++next;
        if (next < std::size(pool)) assign(d, pool[next]);
        else assign(d, std::to_string(d));
      }
    };
    for (Node* n : fwd_) {
      for (const auto& m : n->input_meta) visit(m.shape);
      for (const auto& s : n->output_shapes) visit(s);
    }
  }

  std::string dims(IntArrayRef s, bool transpose = false) {
    if (s.empty()) return "[]";
    Shape v(s);
    if (transpose && v.size() >= 2) std::swap(v[v.size() - 1], v[v.size() - 2]);
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += "×";
      auto it = letters_.find(v[i]);
      out += it != letters_.end() ? it->second : std::to_string(v[i]);
    }
    return out + "]";
  }

  // Sizes of s not yet printed in a legend: "N=64 D=784".
  std::string legend(const std::vector<Shape>& shapes) {
    std::string out;
    for (const auto& s : shapes)
      for (int64_t d : s) {
        auto it = letters_.find(d);
        if (it == letters_.end() || shown_.count(d)) continue;
        shown_.insert(d);
        out += (out.empty() ? "" : " ") + it->second + "=" + std::to_string(d);
      }
    return out;
  }

  // Replaces the table's symbols A, B, C, Y (and dA, Aᵀ …) with names and shapes.
  std::string render(const std::string& f, const std::map<char, Symbol>& sym) {
    static const std::string kT = "ᵀ";
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
      char c = f[i];
      bool prefix_d = c == 'd' && i + 1 < f.size() && sym.count(f[i + 1]) && (i == 0 || !is_word_char(f[i - 1]));
      size_t at = prefix_d ? i + 1 : i;
      bool symbol = sym.count(f[at]) && (prefix_d || i == 0 || !is_word_char(static_cast<unsigned char>(f[i - 1])));
      if (symbol) {
        size_t after = at + 1;
        bool transposed = f.compare(after, kT.size(), kT) == 0;
        size_t end = transposed ? after + kT.size() : after;
        if (end >= f.size() || !is_word_char(static_cast<unsigned char>(f[end]))) {
          const Symbol& s = sym.at(f[at]);
          out += (prefix_d ? "d" : "") + s.name + (transposed ? kT : "") + dims(s.shape, transposed);
          i = end - 1;
          continue;
        }
      }
      out += c;
    }
    return out;
  }

  std::map<char, Symbol> symbols(Node* n) {
    std::map<char, Symbol> sym;
    const char letters[] = {'A', 'B', 'C'};
    for (size_t i = 0; i < n->input_meta.size() && i < 3; ++i) sym[letters[i]] = {input_name(n, i), n->input_meta[i].shape};
    sym['Y'] = {out_names_[{n, 0}], n->output_shapes.empty() ? Shape() : n->output_shapes[0]};
    return sym;
  }

  std::string broadcast_note(Node* n, size_t i) {
    const auto& meta = n->input_meta[i];
    if (!meta.broadcast || n->output_shapes.empty()) return "";
    const Shape& out = n->output_shapes[0];
    if (Shape(meta.shape) == out) return "";
    std::vector<std::string> over;
    size_t lead = out.size() - meta.shape.size();
    for (size_t d = 0; d < out.size(); ++d) {
      bool summed = d < lead || (meta.shape[d - lead] == 1 && out[d] != 1);
      if (summed) {
        auto it = letters_.find(out[d]);
        over.push_back(it != letters_.end() ? it->second : std::to_string(out[d]));
      }
    }
    std::string list;
    for (size_t k = 0; k < over.size(); ++k) list += (k ? "," : "") + over[k];
    std::string name = input_name(n, i);
    return "Σ_" + list + " (" + name + " was broadcast over " + list + ", so its gradient sums over " + list + ")";
  }

  std::string reuse_note(Node* producer, uint32_t nr, const std::string& name) {
    auto it = uses_.find({producer, nr});
    if (it == uses_.end() || it->second < 2) return "";
    return name + " is used " + std::to_string(it->second) + " times: d" + name +
           " is the sum of the gradients from all " + std::to_string(it->second) + " paths";
  }

  const Tensor& root_;
  ExplainOptions opt_;
  std::vector<Node*> order_, fwd_;
  std::map<std::pair<Node*, uint32_t>, std::string> out_names_;
  std::map<std::pair<Node*, uint32_t>, int> uses_;
  std::map<Node*, std::string> leaf_names_;
  std::map<std::string, std::string> const_names_;
  int leaf_counter_ = 0;
  std::map<int64_t, std::string> letters_;
  std::set<std::string> used_;
  std::set<int64_t> shown_;

  struct Line {
    Node* node;
    std::string header, legend;
    std::vector<std::pair<size_t, std::string>> grads;  // input index, formula
    std::vector<std::string> notes;
  };
  std::vector<Line> lines();
};

std::vector<Explainer::Line> Explainer::lines() {
  std::vector<Line> out;
  for (Node* n : order_) {
    if (n->op() == OpKind::AccumulateGrad) continue;
    const OpInfo& info = op_info(n->op());
    auto sym = symbols(n);
    Line l;
    l.node = n;
    std::string fwd = info.forward_formula && *info.forward_formula ? info.forward_formula : "Y = f(A)";
    std::string head = n->name();
    if (!n->module_path.empty()) head += " (" + n->module_path + ")";
    l.header = head + "   " + render(fwd, sym);
    std::vector<Shape> shapes;
    for (const auto& m : n->input_meta) shapes.push_back(m.shape);
    for (const auto& s : n->output_shapes) shapes.push_back(s);
    l.legend = legend(shapes);
    std::string rn = reuse_note(n, 0, out_names_[{n, 0}]);
    if (!rn.empty()) l.notes.push_back(rn);
    auto formulas = split_formulas(info.gradient_formulas ? info.gradient_formulas : "");
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      if (!n->next_edges[i].node) continue;
      std::string f;
      if (info.arity < 0 || i >= formulas.size()) {
        f = "d" + input_name(n, i) + dims(n->input_meta[i].shape) + " = " +
            (formulas.empty() ? std::string("backward of ") + n->name() : formulas[0]);
      } else {
        f = render(formulas[i], sym);
      }
      std::string b = broadcast_note(n, i);
      if (!b.empty()) f += "   then " + b;
      l.grads.push_back({i, f});
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string Explainer::text(bool markdown) {
  std::ostringstream os;
  auto ls = lines();
  if (markdown) os << "| step | op | forward | gradients |\n|---|---|---|---|\n";
  int step = 0;
  for (auto& l : ls) {
    ++step;
    if (markdown) {
      std::string g;
      for (auto& [i, f] : l.grads) g += (g.empty() ? "" : "<br>") + std::string("`") + f + "`";
      for (auto& note : l.notes) g += "<br>" + note;
      os << "| " << step << " | " << l.node->name() << " | `" << l.header.substr(l.header.find("   ") + 3) << "`"
         << (l.legend.empty() ? "" : " (" + l.legend + ")") << " | " << g << " |\n";
      continue;
    }
    os << l.header;
    if (!l.legend.empty()) os << "      " << l.legend;
    os << "\n";
    for (auto& note : l.notes) os << "  (" << note << ")\n";
    for (auto& [i, f] : l.grads) os << "  " << f << "\n";
  }
  // Leaves: where the gradients finally land, summed if a leaf was used twice.
  std::vector<std::string> leaves;
  for (Node* n : order_)
    if (n->op() == OpKind::AccumulateGrad) {
      std::string name = leaf_name(n);
      auto* a = static_cast<autograd::AccumulateGrad*>(n);
      std::string line = name + ".grad" + dims(a->leaf()->sizes) + " += d" + name;
      std::string rn = reuse_note(n, 0, name);
      if (!rn.empty()) line += "   (" + rn + ")";
      leaves.push_back(line);
    }
  if (!leaves.empty()) {
    os << (markdown ? "\n**accumulate into the leaves**\n\n" : "accumulate\n");
    for (auto& l : leaves) os << (markdown ? "- `" : "  ") << l << (markdown ? "`\n" : "\n");
  }
  return os.str();
}

std::string Explainer::dot() {
  std::ostringstream os;
  os << "digraph backward {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n";
  auto ls = lines();
  std::map<Node*, int> id;
  int k = 0;
  for (auto& l : ls) id[l.node] = k++;
  auto esc = [](std::string s) {
    std::string o;
    for (char c : s) o += (c == '"' ? std::string("\\\"") : std::string(1, c));
    return o;
  };
  for (auto& l : ls) {
    os << "  n" << id[l.node] << " [shape=box, label=\"" << esc(l.header);
    for (auto& [i, f] : l.grads) os << "\\l" << esc(f);
    os << "\\l\"];\n";
  }
  for (Node* n : order_) {
    if (n->op() == OpKind::AccumulateGrad) {
      os << "  n" << k << " [shape=ellipse, label=\"" << esc(leaf_name(n)) << "\"];\n";
      id[n] = k++;
    }
  }
  for (auto& l : ls)
    for (size_t i = 0; i < l.node->next_edges.size(); ++i) {
      const auto& e = l.node->next_edges[i];
      if (e.node && id.count(e.node.get()))
        os << "  n" << id[e.node.get()] << " -> n" << id[l.node] << " [label=\"" << esc(dims(l.node->input_meta[i].shape))
           << "\"];\n";
    }
  os << "}\n";
  return os.str();
}

std::vector<ExplainedGradient> Explainer::gradients() {
  std::vector<ExplainedGradient> out;
  for (auto& l : lines())
    for (auto& [i, f] : l.grads) out.push_back({l.node->name(), i, l.node->input_meta[i].shape, f, l.node->sequence_nr()});
  return out;
}

}  // namespace

std::string explain(const Tensor& loss, const ExplainOptions& options) {
  Explainer e(loss, options);
  switch (options.format) {
    case ExplainFormat::Text: return e.text(false);
    case ExplainFormat::Markdown: return e.text(true);
    case ExplainFormat::Dot: return e.dot();
  }
  return "";
}

std::vector<ExplainedGradient> explain_gradients(const Tensor& loss, const ExplainOptions& options) {
  Explainer e(loss, options);
  return e.gradients();
}

}  // namespace dg
