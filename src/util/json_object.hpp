#pragma once
// One JSON object written field by field, in the order of the calls, with rapidjson's writer
// (strings escaped, numbers exact). Used where a struct becomes JSON at an edge: stats for
// inspect and node_info, /health, the P2P envelope.
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gsio::util {

// Bucket counts of a histogram (one per upper bound, then +Inf; not cumulative), with its sum.
struct histogram_view {
  const std::vector<double>& upper_bounds;
  const std::vector<std::uint64_t>& counts;
  double sum;
};

class json_object {
public:
  json_object() : w_(buf_) { w_.StartObject(); }

  json_object& count(std::string_view key, std::uint64_t value) {
    this->key(key);
    w_.Uint64(value);
    return *this;
  }
  json_object& integer(std::string_view key, std::int64_t value) {
    this->key(key);
    w_.Int64(value);
    return *this;
  }
  json_object& number(std::string_view key, double value) {
    this->key(key);
    w_.Double(value);
    return *this;
  }
  json_object& flag(std::string_view key, bool value) {
    this->key(key);
    w_.Bool(value);
    return *this;
  }
  json_object& text(std::string_view key, std::string_view value) {
    this->key(key);
    string(value);
    return *this;
  }
  // A string, or null when it is empty.
  json_object& text_or_null(std::string_view key, std::string_view value) {
    this->key(key);
    if (value.empty())
      w_.Null();
    else
      string(value);
    return *this;
  }
  json_object& texts(std::string_view key, const std::vector<std::string>& values) {
    this->key(key);
    w_.StartArray();
    for (const auto& value : values)
      string(value);
    w_.EndArray();
    return *this;
  }
  json_object& table(std::string_view key, const std::map<std::string, std::uint64_t>& rows) {
    this->key(key);
    w_.StartObject();
    for (const auto& [name, value] : rows)
      count(name, value);
    w_.EndObject();
    return *this;
  }
  // {"bounds":[...],"counts":[... one per bound, then +Inf; not cumulative],"sum":s,"count":n}
  json_object& histogram(std::string_view key, const histogram_view& h) {
    this->key(key);
    w_.StartObject();
    w_.Key("bounds");
    w_.StartArray();
    for (double bound : h.upper_bounds)
      w_.Double(bound);
    w_.EndArray();
    w_.Key("counts");
    w_.StartArray();
    for (auto n : h.counts)
      w_.Uint64(n);
    w_.EndArray();
    w_.Key("sum");
    w_.Double(h.sum);
    count("count", std::accumulate(h.counts.begin(), h.counts.end(), std::uint64_t{0}));
    w_.EndObject();
    return *this;
  }
  // A nested object written by `fill`, or null when `present` is false.
  template <class Fill>
  json_object& object_or_null(std::string_view key, bool present, Fill fill) {
    this->key(key);
    if (!present) {
      w_.Null();
      return *this;
    }
    w_.StartObject();
    fill(*this);
    w_.EndObject();
    return *this;
  }
  // An array with one object per item, each written by `fill(object, item)`.
  template <class Items, class Fill>
  json_object& objects(std::string_view key, const Items& items, Fill fill) {
    this->key(key);
    w_.StartArray();
    for (const auto& item : items) {
      w_.StartObject();
      fill(*this, item);
      w_.EndObject();
    }
    w_.EndArray();
    return *this;
  }

  // A value that is already JSON, spliced in unchanged (the caller vouches for it).
  json_object& raw(std::string_view key, std::string_view json) {
    this->key(key);
    w_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }
  // A JSON value, or null when `json` is empty.
  json_object& raw_or_null(std::string_view key, std::string_view json) {
    if (json.empty()) {
      this->key(key);
      w_.Null();
      return *this;
    }
    return raw(key, json);
  }

  std::string finish() {
    w_.EndObject();
    return {buf_.GetString(), buf_.GetSize()};
  }

private:
  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void string(std::string_view v) { w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }

  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace gsio::util
