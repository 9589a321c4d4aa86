#include "util/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace gsio::util::prometheus {

namespace {

bool name_char(char c, bool first, bool allow_colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
    return true;
  if (allow_colon && c == ':')
    return true;
  return !first && c >= '0' && c <= '9';
}

std::string format_count(std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 24 bytes always hold a uint64
  return std::string(buf, end);
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true))
      return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__"))
    return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false))
      return false;
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  // Plain decimals in the range people read (bucket bounds such as le="0.0005", not "5e-04"),
  // exponents beyond it; both are the shortest text that reads back as the same double.
  char buf[64];
  const double magnitude = std::fabs(value);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21);
  auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 64 bytes hold either form for these ranges: at most 21 + 1 + 23 characters
  return std::string(buf, end);
}

// ---- histogram ------------------------------------------------------------------------------

histogram::histogram(std::vector<double> upper_bounds)
  : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]))
      throw std::invalid_argument("histogram bounds must be finite (+Inf is implicit)");
    if (i > 0 && !(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
}

histogram::histogram(std::vector<double> upper_bounds, std::vector<std::uint64_t> bucket_counts,
                     double sum)
  : histogram(std::move(upper_bounds)) {
  if (bucket_counts.size() != counts_.size())
    throw std::invalid_argument("histogram needs one count per bound plus one for +Inf");
  counts_ = std::move(bucket_counts);
  for (auto c : counts_)
    count_ += c;
  sum_ = sum;
}

void histogram::observe(double value) {
  // Prometheus buckets are "less than or equal": a value on a bound belongs to that bound.
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

// ---- text_writer ----------------------------------------------------------------------------

void text_writer::family(std::string_view name, metric_type type, std::string_view help) {
  if (!valid_metric_name(name))
    throw std::invalid_argument("invalid metric name: " + std::string{name});
  if (!families_.emplace(name).second)
    throw std::logic_error("metric family written twice: " + std::string{name});
  current_ = name;
  current_type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  switch (type) {
    case metric_type::counter: out_ += " counter\n"; break;
    case metric_type::gauge: out_ += " gauge\n"; break;
    case metric_type::histogram: out_ += " histogram\n"; break;
  }
}

void text_writer::require_family(bool histogram_sample) const {
  if (current_.empty())
    throw std::logic_error("metric sample written before its family");
  if (histogram_sample != (current_type_ == metric_type::histogram))
    throw std::logic_error("sample kind does not match the type of family " + current_);
}

void text_writer::write_sample(std::string_view suffix, const labels& label_set,
                               std::string_view extra_name, std::string_view extra_value,
                               std::string_view value) {
  out_ += current_;
  out_ += suffix;
  if (!label_set.empty() || !extra_name.empty()) {
    out_ += '{';
    bool first = true;
    auto write_label = [&](std::string_view name, std::string_view label_value) {
      if (!first)
        out_ += ',';
      first = false;
      out_ += name;
      out_ += "=\"";
      out_ += escape_label_value(label_value);
      out_ += '"';
    };
    for (const auto& [name, label_value] : label_set) {
      if (!valid_label_name(name))
        throw std::invalid_argument("invalid label name: " + std::string{name});
      write_label(name, label_value);
    }
    if (!extra_name.empty())
      write_label(extra_name, extra_value);
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void text_writer::sample(const labels& label_set, double value) {
  require_family(false);
  if (current_type_ == metric_type::counter && !(value >= 0))
    throw std::invalid_argument("counter " + current_ + " must not be negative or NaN");
  write_sample({}, label_set, {}, {}, format_value(value));
}

void text_writer::sample(const labels& label_set, std::uint64_t value) {
  require_family(false);
  write_sample({}, label_set, {}, {}, format_count(value));
}

void text_writer::sample(const labels& label_set, const histogram& h) {
  require_family(true);
  for (const auto& [name, value] : label_set)
    if (name == "le")
      throw std::invalid_argument("label \"le\" is reserved for histogram buckets");
  std::uint64_t cumulative = 0;
  const auto& bounds = h.upper_bounds();
  const auto& counts = h.bucket_counts();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    write_sample("_bucket", label_set, "le", format_value(bounds[i]), format_count(cumulative));
  }
  write_sample("_bucket", label_set, "le", "+Inf", format_count(h.count()));
  write_sample("_sum", label_set, {}, {}, format_value(h.sum()));
  write_sample("_count", label_set, {}, {}, format_count(h.count()));
}

void text_writer::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, metric_type::counter, help);
  sample({}, value);
}

void text_writer::gauge(std::string_view name, std::string_view help, double value) {
  family(name, metric_type::gauge, help);
  sample({}, value);
}

}  // namespace gsio::util::prometheus
