#include "model_spec.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace dgcli {
namespace nn = dg::nn;

namespace {

// Presets, written as model files are (sizes that follow from the input left out).
json preset_layers(const std::string& name) {
  if (name == "mlp")
    return json::parse(R"([{"type":"flatten"},{"type":"linear","out":512},{"type":"relu"},
      {"type":"linear","out":512},{"type":"relu"},{"type":"linear","out":"classes"}])");
  if (name == "two-layer")
    return json::parse(R"([{"type":"flatten"},{"type":"linear","out":100},{"type":"relu"},
      {"type":"linear","out":"classes"}])");
  if (name == "cnn")
    return json::parse(R"([{"type":"conv2d","out":32,"kernel":3,"padding":1},{"type":"relu"},
      {"type":"maxpool2d","kernel":2},
      {"type":"conv2d","out":64,"kernel":3,"padding":1},{"type":"relu"},{"type":"maxpool2d","kernel":2},
      {"type":"flatten"},{"type":"dropout","p":0.25},{"type":"linear","out":128},{"type":"relu"},
      {"type":"dropout","p":0.25},{"type":"linear","out":"classes"}])");
  return nullptr;
}

// Allowed keys per layer type (besides "type"); required ones have no default.
const std::map<std::string, std::set<std::string>>& layer_keys() {
  static const std::map<std::string, std::set<std::string>> k = {
      {"linear", {"in", "out", "bias"}},
      {"conv2d", {"in", "out", "kernel", "stride", "padding", "bias"}},
      {"maxpool2d", {"kernel", "stride", "padding"}},
      {"avgpool2d", {"kernel", "stride", "padding"}},
      {"batchnorm1d", {"features", "eps", "momentum"}},
      {"batchnorm2d", {"features", "eps", "momentum"}},
      {"dropout", {"p"}},
      {"flatten", {}},
      {"relu", {}},
      {"leaky_relu", {"negative_slope"}},
      {"gelu", {}},
      {"silu", {}},
      {"tanh", {}},
      {"sigmoid", {}},
  };
  return k;
}

std::string known_types() {
  std::string r;
  for (auto& [t, _] : layer_keys()) r += (r.empty() ? "" : ", ") + t;
  return r;
}

struct LayerCtx {
  const std::string& source;
  size_t index;
  std::string where() const { return source + ": layer " + std::to_string(index); }
};

// Model files come from users (and a checkpoint's model entry from disk): sizes
// are refused before anything is allocated when the weights or one layer's
// activations would not fit any machine, and every size product is overflow-checked
// (a wrapped product would pass the caps and then allocate garbage).
constexpr int64_t kMaxSize = int64_t(1) << 30;            // any single "out", "kernel", "padding", ...
constexpr int64_t kMaxParameters = int64_t(1) << 30;      // 4 GiB of float32 weights, whole model
constexpr int64_t kMaxActivation = int64_t(1) << 30;      // elements of one layer's output, per example

int64_t checked_mul(std::initializer_list<int64_t> factors, const LayerCtx& c, const std::string& type) {
  int64_t r = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(r, f, &r))
      throw dg::Error(c.where() + " (" + type + "): sizes too large (their product overflows 64 bits)");
  return r;
}

int64_t get_int(const json& l, const char* key, const LayerCtx& c, std::optional<int64_t> dflt = std::nullopt,
                int64_t min = 1) {
  if (!l.contains(key)) {
    if (dflt) return *dflt;
    throw dg::Error(c.where() + " (" + l.value("type", std::string("?")) + "): missing \"" + key + "\"");
  }
  const json& v = l.at(key);
  if (!v.is_number_integer())
    throw dg::Error(c.where() + ": \"" + key + "\" must be an integer, got " + v.dump());
  int64_t x = v.get<int64_t>();
  // Compared as unsigned first: a JSON integer above INT64_MAX would read back negative.
  if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(kMaxSize) : x > kMaxSize)
    throw dg::Error(c.where() + ": \"" + key + "\" is " + v.dump() + ", more than the limit of " +
                    std::to_string(kMaxSize));
  if (x < min)
    throw dg::Error(c.where() + ": \"" + key + "\" must be at least " + std::to_string(min) + ", got " +
                    std::to_string(x));
  return x;
}

double get_double(const json& l, const char* key, const LayerCtx& c, double dflt, double lo, double hi) {
  if (!l.contains(key)) return dflt;
  const json& v = l.at(key);
  if (!v.is_number()) throw dg::Error(c.where() + ": \"" + key + "\" must be a number, got " + v.dump());
  double x = v.get<double>();
  if (!(x >= lo && x <= hi))
    throw dg::Error(c.where() + ": \"" + key + "\" must be in [" + fmt(lo, 2) + ", " + fmt(hi, 2) + "], got " +
                    v.dump());
  return x;
}

bool get_bool(const json& l, const char* key, const LayerCtx& c, bool dflt) {
  if (!l.contains(key)) return dflt;
  if (!l.at(key).is_boolean()) throw dg::Error(c.where() + ": \"" + key + "\" must be true or false");
  return l.at(key).get<bool>();
}

int64_t numel_of(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto v : s)
    if (__builtin_mul_overflow(n, v, &n)) return std::numeric_limits<int64_t>::max();
  return n;
}

// Output size of a conv / pool along one dim; throws when the window does not fit.
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, const LayerCtx& c) {
  int64_t o = (in + 2 * p - k) / s + 1;
  if (in + 2 * p < k || o < 1)
    throw dg::Error(c.where() + ": kernel " + std::to_string(k) + " does not fit an input of size " +
                    std::to_string(in) + " with padding " + std::to_string(p));
  return o;
}

// Resolves one layer against the shape coming in: fills sizes, checks them,
// and returns (resolved layer, info). `shape` becomes the output shape.
std::pair<json, LayerInfo> resolve_layer(const json& in_layer, std::vector<int64_t>& shape, int64_t num_classes,
                                         const LayerCtx& c, bool last_classes_ok) {
  (void)last_classes_ok;
  if (!in_layer.is_object()) throw dg::Error(c.where() + ": expected an object like {\"type\": \"relu\"}, got " + in_layer.dump());
  if (!in_layer.contains("type") || !in_layer.at("type").is_string())
    throw dg::Error(c.where() + ": missing \"type\" (one of " + known_types() + ")");
  std::string type = in_layer.at("type").get<std::string>();
  // Through unsigned char: ::tolower of a negative char (UTF-8 bytes) is undefined.
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  auto it = layer_keys().find(type);
  if (it == layer_keys().end())
    throw dg::Error(c.where() + ": unknown layer type \"" + type + "\" (known: " + known_types() + ")");
  for (auto& [key, _] : in_layer.items())
    if (key != "type" && !it->second.count(key)) {
      std::string allowed;
      for (auto& a : it->second) allowed += (allowed.empty() ? "" : ", ") + a;
      throw dg::Error(c.where() + " (" + type + "): unknown key \"" + key + "\"" +
                      (allowed.empty() ? " (this layer takes no options)" : " (allowed: " + allowed + ")"));
    }
  json l = in_layer;
  l["type"] = type;
  if (l.contains("out") && l["out"] == "classes") l["out"] = num_classes;

  LayerInfo info;
  info.name = std::to_string(c.index);
  info.type = type;
  const std::string in_str = shape_string(shape);
  auto need_dims = [&](size_t d, const char* what) {
    if (shape.size() != d)
      throw dg::Error(c.where() + " (" + type + ") expects " + what + ", but its input is " + in_str +
                      " per example" + (d == 1 ? " (add a {\"type\": \"flatten\"} layer before it)" : ""));
  };
  const int64_t in_numel = numel_of(shape);
  std::ostringstream d;
  if (type == "linear") {
    need_dims(1, "[features]");
    int64_t in = get_int(l, "in", c, shape[0]);
    if (in != shape[0])
      throw dg::Error(c.where() + " (linear): \"in\" is " + std::to_string(in) + " but the input has " +
                      std::to_string(shape[0]) + " features (shape " + in_str + ")");
    int64_t out = get_int(l, "out", c);
    bool bias = get_bool(l, "bias", c, true);
    l["in"] = in, l["out"] = out, l["bias"] = bias;
    const int64_t weights = checked_mul({in, out}, c, type);  // at most 2^60: the sums below cannot overflow
    info.parameters = weights + (bias ? out : 0);
    info.flops = 2 * weights + (bias ? out : 0);
    shape = {out};
    d << "Linear(in_features=" << in << ", out_features=" << out << ", bias=" << (bias ? "True" : "False") << ")";
  } else if (type == "conv2d") {
    need_dims(3, "[channels, height, width]");
    int64_t in = get_int(l, "in", c, shape[0]);
    if (in != shape[0])
      throw dg::Error(c.where() + " (conv2d): \"in\" is " + std::to_string(in) + " but the input has " +
                      std::to_string(shape[0]) + " channels (shape " + in_str + ")");
    int64_t out = get_int(l, "out", c), k = get_int(l, "kernel", c);
    int64_t s = get_int(l, "stride", c, 1), p = get_int(l, "padding", c, 0, 0);
    bool bias = get_bool(l, "bias", c, true);
    l["in"] = in, l["out"] = out, l["kernel"] = k, l["stride"] = s, l["padding"] = p, l["bias"] = bias;
    int64_t oh = window_out(shape[1], k, s, p, c), ow = window_out(shape[2], k, s, p, c);
    info.parameters = checked_mul({out, in, k, k}, c, type) + (bias ? out : 0);
    info.flops = checked_mul({2, in, k, k, out, oh, ow}, c, type) + (bias ? checked_mul({out, oh, ow}, c, type) : 0);
    shape = {out, oh, ow};
    d << "Conv2d(" << in << ", " << out << ", kernel_size=(" << k << ", " << k << "), stride=(" << s << ", " << s
      << ")";
    if (p) d << ", padding=(" << p << ", " << p << ")";
    if (!bias) d << ", bias=False";
    d << ")";
  } else if (type == "maxpool2d" || type == "avgpool2d") {
    need_dims(3, "[channels, height, width]");
    int64_t k = get_int(l, "kernel", c), s = get_int(l, "stride", c, k), p = get_int(l, "padding", c, 0, 0);
    if (2 * p > k) throw dg::Error(c.where() + ": padding must be at most half the kernel size");
    l["kernel"] = k, l["stride"] = s, l["padding"] = p;
    int64_t oh = window_out(shape[1], k, s, p, c), ow = window_out(shape[2], k, s, p, c);
    shape = {shape[0], oh, ow};
    info.flops = checked_mul({shape[0], oh, ow, k, k}, c, type);
    d << (type == "maxpool2d" ? "MaxPool2d" : "AvgPool2d") << "(kernel_size=" << k << ", stride=" << s
      << ", padding=" << p << ")";
  } else if (type == "batchnorm1d" || type == "batchnorm2d") {
    bool two = type == "batchnorm2d";
    if (two) need_dims(3, "[channels, height, width]");
    else need_dims(1, "[features]");
    int64_t f = get_int(l, "features", c, shape[0]);
    if (f != shape[0])
      throw dg::Error(c.where() + " (" + type + "): \"features\" is " + std::to_string(f) + " but the input has " +
                      std::to_string(shape[0]) + " (shape " + in_str + ")");
    double eps = get_double(l, "eps", c, 1e-5, 0, 1), mom = get_double(l, "momentum", c, 0.1, 0, 1);
    l["features"] = f, l["eps"] = eps, l["momentum"] = mom;
    info.parameters = 2 * f;
    info.flops = checked_mul({2, in_numel}, c, type);
    d << (two ? "BatchNorm2d(" : "BatchNorm1d(") << f << ", eps=" << eps << ", momentum=" << mom << ")";
  } else if (type == "dropout") {
    double p = get_double(l, "p", c, 0.5, 0, 1);
    if (p >= 1) throw dg::Error(c.where() + ": dropout \"p\" must be below 1");
    l["p"] = p;
    d << "Dropout(p=" << p << ")";
  } else if (type == "flatten") {
    shape = {in_numel};
    d << "Flatten(start_dim=1, end_dim=-1)";
  } else {  // element-wise activations
    info.flops = in_numel;
    if (type == "relu") d << "ReLU()";
    else if (type == "gelu") d << "GELU(approximate='none')", info.flops = checked_mul({8, in_numel}, c, type);
    else if (type == "tanh") d << "Tanh()", info.flops = checked_mul({4, in_numel}, c, type);
    else if (type == "sigmoid") d << "Sigmoid()", info.flops = checked_mul({4, in_numel}, c, type);
    else if (type == "silu") d << "SiLU()", info.flops = checked_mul({5, in_numel}, c, type);
    else {
      double s = get_double(l, "negative_slope", c, 0.01, 0, 1e6);
      l["negative_slope"] = s;
      d << "LeakyReLU(negative_slope=" << s << ")";
    }
  }
  const int64_t out_numel = numel_of(shape);
  if (out_numel > kMaxActivation)
    throw dg::Error(c.where() + " (" + type + "): its output " + shape_string(shape) + " per example has " +
                    (out_numel == std::numeric_limits<int64_t>::max() ? std::string("too many")
                                                                      : std::to_string(out_numel)) +
                    " values, more than the limit of " + std::to_string(kMaxActivation));
  info.description = d.str();
  info.output_shape = shape;
  return {l, info};
}

std::vector<std::pair<json, LayerInfo>> resolve_all(const json& layers, const std::string& source,
                                                   const std::vector<int64_t>& input_shape, int64_t num_classes) {
  if (!layers.is_array())
    throw dg::Error(source + ": expected {\"layers\": [...]} or a list of layers, got " +
                    std::string(layers.type_name()));
  if (layers.empty()) throw dg::Error(source + ": the model has no layers");
  for (int64_t d : input_shape)
    if (d < 1 || d > kMaxSize)
      throw dg::Error(source + ": input shape " + shape_string(input_shape) + " has a size outside [1, " +
                      std::to_string(kMaxSize) + "]");
  if (numel_of(input_shape) > kMaxActivation)
    throw dg::Error(source + ": input shape " + shape_string(input_shape) + " has more than " +
                    std::to_string(kMaxActivation) + " values per example");
  if (num_classes < 0 || num_classes > kMaxSize)
    throw dg::Error(source + ": " + std::to_string(num_classes) + " classes is outside [0, " +
                    std::to_string(kMaxSize) + "]");
  std::vector<int64_t> shape = input_shape;
  std::vector<std::pair<json, LayerInfo>> out;
  int64_t parameters = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerCtx c{source, i};
    out.push_back(resolve_layer(layers[i], shape, num_classes, c, i + 1 == layers.size()));
    // Checked layer by layer, so the message names the layer that crosses the limit.
    parameters += out.back().second.parameters;
    if (parameters > kMaxParameters)
      throw dg::Error(c.where() + " (" + out.back().second.type + "): the model would have " +
                      std::to_string(parameters) + " parameters (" + fmt(double(parameters) * 4 / (1 << 30), 1) +
                      " GiB of float32 weights), more than the limit of " + std::to_string(kMaxParameters));
  }
  if (num_classes > 0 && (shape.size() != 1 || shape[0] != num_classes))
    throw dg::Error(source + ": the last layer's output is " + shape_string(shape) + " per example, but the data has " +
                    std::to_string(num_classes) + " classes (end with {\"type\": \"linear\", \"out\": \"classes\"})");
  return out;
}

}  // namespace

json ModelSpec::to_json() const {
  return json{{"name", name}, {"input_shape", input_shape}, {"num_classes", num_classes}, {"layers", layers}};
}

ModelSpec ModelSpec::from_json(const json& j, const std::string& source) {
  try {
    auto input = json_integers<int64_t>(j.at("input_shape"), source + ": \"input_shape\"");
    int64_t classes = json_integer<int64_t>(j.at("num_classes"), source + ": \"num_classes\"");
    ModelSpec s = resolve_model_spec(j.at("layers"), source, input, classes);
    s.name = j.value("name", source);
    return s;
  } catch (const json::exception& e) {
    throw dg::Error(source + ": the model description is incomplete or malformed (" + std::string(e.what()) + ")");
  }
}

std::vector<std::string> preset_names() { return {"mlp", "cnn", "two-layer"}; }
bool is_preset(const std::string& name) { return !preset_layers(name).is_null(); }

ModelSpec resolve_model_spec(const json& layers, const std::string& source, const std::vector<int64_t>& input_shape,
                             int64_t num_classes) {
  ModelSpec s;
  s.name = source;
  s.input_shape = input_shape;
  s.num_classes = num_classes;
  for (auto& [l, info] : resolve_all(layers, source, input_shape, num_classes)) s.layers.push_back(l);
  return s;
}

ModelSpec parse_model_file(const std::string& text, const std::string& source, const std::vector<int64_t>& input_shape,
                           int64_t num_classes) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    // Not only parse_error: a number beyond double's range ("1e999") is an
    // out_of_range from the parser (fuzz finding). The "[json.exception...]" tag is dropped.
    std::string what = e.what();
    auto pos = what.find("] ");
    throw dg::Error(source + " is not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
  json layers = j;
  if (j.is_object()) {
    if (!j.contains("layers")) throw dg::Error(source + ": expected a \"layers\" list");
    if (j.contains("input_shape")) {
      const json& shape = j["input_shape"];
      // Any non-list (or a list of non-integers) is a mismatch too, never a json::type_error.
      bool same = shape.is_array() && shape.size() == input_shape.size();
      for (size_t i = 0; same && i < input_shape.size(); ++i)
        same = shape[i].is_number_integer() && shape[i] == input_shape[i];
      if (!same)
        throw dg::Error(source + ": made for inputs of shape " + shape.dump() + ", but the data has " +
                        shape_string(input_shape));
    }
    layers = j["layers"];
  }
  return resolve_model_spec(layers, source, input_shape, num_classes);
}

ModelSpec load_model_spec(const std::string& model, const std::vector<int64_t>& input_shape, int64_t num_classes) {
  json layers = preset_layers(model);
  if (!layers.is_null()) {
    ModelSpec s = resolve_model_spec(layers, model, input_shape, num_classes);
    s.name = model;
    return s;
  }
  bool looks_like_file = model.find('/') != std::string::npos || model.find('.') != std::string::npos;
  if (!looks_like_file || !file_exists(model)) {
    std::string presets;
    for (auto& p : preset_names()) presets += (presets.empty() ? "" : ", ") + p;
    throw dg::Error(looks_like_file ? "model file '" + model + "' not found"
                                    : "unknown model preset '" + model + "' (presets: " + presets +
                                          "; or give the path of a JSON model file)");
  }
  ModelSpec s = parse_model_file(read_text_file(model), "model file '" + model + "'", input_shape, num_classes);
  s.name = model;
  return s;
}

std::vector<LayerInfo> describe_layers(const ModelSpec& spec) {
  std::vector<LayerInfo> r;
  for (auto& [l, info] : resolve_all(spec.layers, spec.name, spec.input_shape, spec.num_classes)) r.push_back(info);
  return r;
}

std::shared_ptr<nn::SequentialImpl> build_model(const ModelSpec& spec) {
  auto seq = std::make_shared<nn::SequentialImpl>();
  for (const json& l : spec.layers) {
    const std::string type = l.at("type");
    if (type == "linear") {
      seq->push_back(nn::Linear(nn::LinearOptions(l["in"], l["out"]).bias(l["bias"].get<bool>())));
    } else if (type == "conv2d") {
      int64_t p = l["padding"];
      seq->push_back(nn::Conv2d(nn::Conv2dOptions(l["in"].get<int64_t>(), l["out"].get<int64_t>(), l["kernel"].get<int64_t>())
                                    .stride(l["stride"].get<int64_t>())
                                    .padding(dg::ExpandingArray<2>(p))
                                    .bias(l["bias"].get<bool>())));
    } else if (type == "maxpool2d") {
      seq->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(l["kernel"].get<int64_t>())
                                       .stride(l["stride"].get<int64_t>())
                                       .padding(l["padding"].get<int64_t>())));
    } else if (type == "avgpool2d") {
      seq->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(l["kernel"].get<int64_t>())
                                       .stride(l["stride"].get<int64_t>())
                                       .padding(l["padding"].get<int64_t>())));
    } else if (type == "batchnorm1d") {
      seq->push_back(nn::BatchNorm1d(nn::BatchNormOptions(l["features"].get<int64_t>())
                                         .eps(l["eps"].get<double>())
                                         .momentum(l["momentum"].get<double>())));
    } else if (type == "batchnorm2d") {
      seq->push_back(nn::BatchNorm2d(nn::BatchNormOptions(l["features"].get<int64_t>())
                                         .eps(l["eps"].get<double>())
                                         .momentum(l["momentum"].get<double>())));
    } else if (type == "dropout") {
      seq->push_back(nn::Dropout(nn::DropoutOptions(l["p"].get<double>())));
    } else if (type == "flatten") {
      seq->push_back(nn::Flatten());
    } else if (type == "relu") {
      seq->push_back(nn::ReLU());
    } else if (type == "leaky_relu") {
      seq->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(l["negative_slope"].get<double>())));
    } else if (type == "gelu") {
      seq->push_back(nn::GELU());
    } else if (type == "tanh") {
      seq->push_back(nn::Tanh());
    } else if (type == "sigmoid") {
      seq->push_back(nn::Sigmoid());
    } else if (type == "silu") {
      seq->push_back(nn::SiLU());
    } else {
      throw dg::Error("unknown layer type '" + type + "'");
    }
  }
  return seq;
}

std::string pytorch_definition(const ModelSpec& spec) {
  std::ostringstream os;
  os << "model = torch.nn.Sequential(\n";
  for (auto& info : describe_layers(spec)) os << "    torch.nn." << info.description << ",  # " << info.name << "\n";
  os << ")\n";
  return os.str();
}

}  // namespace dgcli
