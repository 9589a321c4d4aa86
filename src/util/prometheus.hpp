#pragma once
// A small writer for the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), and the histogram accumulator
// the actors keep. Pure: no actors, no sockets, no clock. The node's gateway and the relay render
// /metrics with it.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gsio::util::prometheus {

// Label name/value pairs of one sample. Views: they only need to live for the call that takes them.
using labels = std::vector<std::pair<std::string_view, std::string_view>>;

enum class metric_type { counter, gauge, histogram };

// Counts observations into fixed buckets, as a Prometheus histogram does. Buckets are stored per
// bucket (not cumulative); the last one holds the observations above the largest bound (+Inf).
class histogram {
public:
  // `upper_bounds` must be finite and strictly increasing; throws std::invalid_argument otherwise.
  explicit histogram(std::vector<double> upper_bounds);
  // Rebuilds a histogram from its parts (e.g. parsed from an actor's inspect JSON).
  // `bucket_counts` has one entry per bound plus one for +Inf; throws std::invalid_argument if not.
  histogram(std::vector<double> upper_bounds, std::vector<std::uint64_t> bucket_counts, double sum);

  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& bucket_counts() const { return counts_; }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Writes metric families in order. Each family starts with family() (its HELP and TYPE lines) and
// is followed by its samples. Misuse that would produce text Prometheus rejects (a sample before
// any family, a family name used twice, an invalid name, a histogram sample in a counter family,
// a negative counter, a reserved label) throws std::logic_error or std::invalid_argument.
class text_writer {
public:
  void family(std::string_view name, metric_type type, std::string_view help);
  // A sample of the current counter or gauge family.
  void sample(const labels& label_set, double value);
  void sample(const labels& label_set, std::uint64_t value);
  // The _bucket (cumulative, with le="+Inf"), _sum and _count samples of the current histogram
  // family.
  void sample(const labels& label_set, const histogram& h);

  // Families of one unlabelled sample.
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

private:
  void require_family(bool histogram_sample) const;
  void write_sample(std::string_view suffix, const labels& label_set, std::string_view extra_name,
                    std::string_view extra_value, std::string_view value);

  std::string out_;
  std::string current_;  // the family being written, "" before the first
  metric_type current_type_ = metric_type::gauge;
  std::set<std::string, std::less<>> families_;
};

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus itself).
bool valid_label_name(std::string_view name);
// Backslash, double quote and line feed escaped as \\, \" and \n.
std::string escape_label_value(std::string_view value);
// Backslash and line feed escaped as \\ and \n (HELP text keeps double quotes as they are).
std::string escape_help(std::string_view text);
// Shortest text that reads back as the same double; +Inf, -Inf and NaN as Prometheus spells them.
std::string format_value(double value);

}  // namespace gsio::util::prometheus
