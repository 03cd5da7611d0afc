// The safetensors JSON header, read through nlohmann-json's SAX interface.
//
// Why SAX and not json::parse: the DOM parser silently keeps one of two
// duplicate keys (a file could then mean two things to two readers), and it
// would build arbitrarily nested or long arrays before we could look at them.
// This handler is a small state machine over the only shape a valid header has
// (root object → tensor entry object → shape / data_offsets array), so it
// rejects a duplicate key, a misplaced value or an over-long array the moment
// it appears, and never holds more than the header's own entries.
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "io/io_internal.hpp"

namespace dg::io::detail {
namespace {

using json = nlohmann::json;

class HeaderHandler : public nlohmann::json_sax<json> {
 public:
  explicit HeaderHandler(const std::string& what) : what_(what) {}
  StHeader header;
  std::string parse_error_message;

  bool null() override {
    if (!skip_ && level_ == kRootValue && key_ == "__metadata__") return back_to_root();  // "__metadata__": null is allowed
    return scalar("null");
  }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (level_ == kArray && v >= 0) return array_item(static_cast<uint64_t>(v));
    if (level_ == kArray) fail(array_where() + " holds the negative number " + std::to_string(v));
    return scalar("a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (level_ == kArray) return array_item(v);
    return scalar("a number");
  }
  bool number_float(number_float_t, const string_t& s) override {
    if (level_ == kArray) fail(array_where() + " holds " + s + ", which is not an integer in the range 0..2^64-1");
    return scalar("a number");
  }
  bool string(string_t& s) override {
    if (skip_) return true;
    if (level_ == kMetaValue) {
      header.metadata[meta_key_] = s;
      level_ = kMeta;
      return true;
    }
    if (level_ == kEntryValue && entry_key_ == "dtype") {
      entry().dtype = s;
      entry().has_dtype = true;
      level_ = kEntry;
      return true;
    }
    return scalar("a string");
  }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool start_object(std::size_t) override {
    if (skip_) return ++skip_, true;
    switch (level_) {
      case kStart: level_ = kRoot; return true;
      case kRootValue:
        if (key_ == "__metadata__") {
          level_ = kMeta;
        } else {
          header.entries.push_back(StEntry{});
          header.entries.back().name = key_;
          entry_keys_.clear();
          level_ = kEntry;
        }
        return true;
      case kEntryValue:
        if (is_known_field()) fail(where() + ": field '" + entry_key_ + "' must not be an object");
        return skip_ = 1, true;
      default: return scalar("an object");
    }
  }
  bool key(string_t& k) override {
    if (skip_) return true;
    if (level_ == kRoot) {
      if (!root_keys_.insert(k).second)
        fail(what_ + ": duplicate key '" + k + "' in the JSON header (a file must name each tensor once)");
      key_ = k;
      level_ = kRootValue;
    } else if (level_ == kMeta) {
      if (header.metadata.count(k)) fail(what_ + ": duplicate key '" + k + "' in __metadata__");
      meta_key_ = k;
      level_ = kMetaValue;
    } else {  // kEntry
      if (!entry_keys_.insert(k).second) fail(where() + ": duplicate field '" + k + "'");
      entry_key_ = k;
      level_ = kEntryValue;
    }
    return true;
  }
  bool end_object() override {
    if (skip_) {
      if (--skip_ == 0) level_ = kEntry;  // the ignored field's value ended
      return true;
    }
    switch (level_) {
      case kRoot: level_ = kEnd; return true;
      case kMeta: return back_to_root();
      case kEntry: {
        const StEntry& e = entry();
        if (!e.has_dtype || !e.has_shape || !e.has_offsets)
          fail(where() + ": missing field '" +
               std::string(!e.has_dtype ? "dtype" : !e.has_shape ? "shape" : "data_offsets") + "'");
        return back_to_root();
      }
      default: return fail(what_ + ": malformed JSON header"), false;
    }
  }
  bool start_array(std::size_t) override {
    if (skip_) return ++skip_, true;
    if (level_ == kEntryValue && (entry_key_ == "shape" || entry_key_ == "data_offsets")) {
      level_ = kArray;
      array_.clear();
      return true;
    }
    if (level_ == kEntryValue && !is_known_field()) return skip_ = 1, true;
    return scalar("an array");
  }
  bool end_array() override {
    if (skip_) {
      if (--skip_ == 0) level_ = kEntry;  // the ignored field's value ended
      return true;
    }
    StEntry& e = entry();
    if (entry_key_ == "shape") {
      e.shape = array_;
      e.has_shape = true;
    } else {
      if (array_.size() != 2)
        fail(where() + ": data_offsets must be [begin, end], got " + std::to_string(array_.size()) + " numbers");
      e.begin = array_[0];
      e.end = array_[1];
      e.has_offsets = true;
    }
    level_ = kEntry;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    parse_error_message = ex.what();
    return false;
  }

 private:
  // Where the parser is: the value expected next, or the container it is in.
  enum Level { kStart, kRoot, kRootValue, kMeta, kMetaValue, kEntry, kEntryValue, kArray, kEnd };

  [[noreturn]] void fail(const std::string& msg) const { throw IOError(msg); }
  StEntry& entry() { return header.entries.back(); }
  bool is_known_field() const {
    return entry_key_ == "dtype" || entry_key_ == "shape" || entry_key_ == "data_offsets";
  }
  std::string where() const { return what_ + ": tensor '" + key_ + "'"; }
  std::string array_where() const { return where() + ": " + entry_key_; }

  bool array_item(uint64_t v) {
    if (skip_) return true;
    const size_t limit = entry_key_ == "shape" ? size_t(kMaxDims) : 2;
    if (array_.size() >= limit)
      fail(array_where() + " has more than " + std::to_string(limit) +
           (entry_key_ == "shape" ? " dimensions (dimgrad tensors have at most 8)" : " numbers"));
    array_.push_back(v);
    return true;
  }
  // The value of a root key (metadata or a tensor entry) ended.
  bool back_to_root() {
    level_ = kRoot;
    return true;
  }
  // A value where none of its kind belongs.
  bool scalar(const char* kind) {
    if (skip_) return true;
    switch (level_) {
      case kStart: fail(what_ + ": the JSON header must be an object, got " + kind);
      case kRootValue:
        if (key_ == "__metadata__") fail(what_ + ": __metadata__ must be an object of strings, got " + kind);
        fail(where() + ": its entry must be an object {dtype, shape, data_offsets}, got " + kind);
      case kMetaValue: fail(what_ + ": __metadata__ value of '" + meta_key_ + "' must be a string, got " + kind);
      case kEntryValue:
        if (entry_key_ == "dtype") fail(where() + ": dtype must be a string, got " + kind);
        if (entry_key_ == "shape" || entry_key_ == "data_offsets")
          fail(where() + ": " + entry_key_ + " must be an array of integers, got " + kind);
        level_ = kEntry;  // an unknown field with a plain value: ignored, as the reference reader does
        return true;
      case kArray: fail(array_where() + " must hold integers only, got " + kind);
      default: fail(what_ + ": malformed JSON header");
    }
  }

  const std::string& what_;
  Level level_ = kStart;
  int skip_ = 0;  // > 0 while skipping the nested value of an unknown entry field
  std::string key_, meta_key_, entry_key_;
  std::unordered_set<std::string> root_keys_, entry_keys_;
  std::vector<uint64_t> array_;
};

}  // namespace

StHeader parse_safetensors_header(std::string_view text, const std::string& what) {
  HeaderHandler h(what);
  bool ok = json::sax_parse(text.begin(), text.end(), &h, nlohmann::detail::input_format_t::json, true);
  if (!ok) {
    std::string msg = h.parse_error_message;
    if (msg.rfind("[json.exception.", 0) == 0 && msg.find("] ") != std::string::npos)
      msg = msg.substr(msg.find("] ") + 2);  // drop nlohmann's exception tag, keep its position and reason
    throw IOError(what + ": the header is not valid JSON: " + msg);
  }
  return std::move(h.header);
}

}  // namespace dg::io::detail
