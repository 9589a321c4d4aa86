// The Prometheus text writer behind /metrics of gsio-node and gsio-relay (src/util/prometheus.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "util/prometheus.hpp"

using namespace gsio::util::prometheus;

TEST_CASE("metrics: a counter family has HELP, TYPE and its labelled samples") {
  text_writer w;
  w.family("gsio_p2p_messages_sent_total", metric_type::counter, "P2P messages sent.");
  w.sample({{"type", "NodeAnnounce"}}, std::uint64_t{3});
  w.sample({{"type", "EntryAnnounce"}, {"link", "relay"}}, std::uint64_t{18446744073709551615u});
  CHECK(w.text()
        == "# HELP gsio_p2p_messages_sent_total P2P messages sent.\n"
           "# TYPE gsio_p2p_messages_sent_total counter\n"
           "gsio_p2p_messages_sent_total{type=\"NodeAnnounce\"} 3\n"
           "gsio_p2p_messages_sent_total{type=\"EntryAnnounce\",link=\"relay\"} "
           "18446744073709551615\n");
}

TEST_CASE("metrics: one-sample gauges and counters") {
  text_writer w;
  w.gauge("gsio_ledger_height", "Entries on the canonical chain.", 42);
  w.counter("gsio_ledger_commits_total", "Commits.", 7);
  w.gauge("gsio_process_uptime_seconds", "Uptime.", 1.25);
  CHECK(w.take()
        == "# HELP gsio_ledger_height Entries on the canonical chain.\n"
           "# TYPE gsio_ledger_height gauge\n"
           "gsio_ledger_height 42\n"
           "# HELP gsio_ledger_commits_total Commits.\n"
           "# TYPE gsio_ledger_commits_total counter\n"
           "gsio_ledger_commits_total 7\n"
           "# HELP gsio_process_uptime_seconds Uptime.\n"
           "# TYPE gsio_process_uptime_seconds gauge\n"
           "gsio_process_uptime_seconds 1.25\n");
}

TEST_CASE("metrics: histogram buckets are cumulative and end with +Inf equal to _count") {
  histogram h{{0.001, 0.01, 0.1}};
  h.observe(0.0005);
  h.observe(0.001);  // on a bound: that bucket ("less than or equal")
  h.observe(0.05);
  h.observe(3);      // above every bound: only +Inf
  CHECK(h.count() == 4);
  CHECK(h.bucket_counts() == std::vector<std::uint64_t>{2, 0, 1, 1});
  CHECK(h.sum() == doctest::Approx(3.0515));

  text_writer w;
  w.family("gsio_ledger_append_latency_seconds", metric_type::histogram, "Append latency.");
  w.sample({{"origin", "local"}}, h);
  const std::string expected =
    "# HELP gsio_ledger_append_latency_seconds Append latency.\n"
    "# TYPE gsio_ledger_append_latency_seconds histogram\n"
    "gsio_ledger_append_latency_seconds_bucket{origin=\"local\",le=\"0.001\"} 2\n"
    "gsio_ledger_append_latency_seconds_bucket{origin=\"local\",le=\"0.01\"} 2\n"
    "gsio_ledger_append_latency_seconds_bucket{origin=\"local\",le=\"0.1\"} 3\n"
    "gsio_ledger_append_latency_seconds_bucket{origin=\"local\",le=\"+Inf\"} 4\n"
    "gsio_ledger_append_latency_seconds_sum{origin=\"local\"} " + format_value(h.sum()) + "\n"
    "gsio_ledger_append_latency_seconds_count{origin=\"local\"} 4\n";
  CHECK(w.text() == expected);
}

TEST_CASE("metrics: an empty histogram still lists every bucket") {
  histogram h{{1, 2}};
  text_writer w;
  w.family("batch_entries", metric_type::histogram, "Batch sizes.");
  w.sample({}, h);
  CHECK(w.text()
        == "# HELP batch_entries Batch sizes.\n"
           "# TYPE batch_entries histogram\n"
           "batch_entries_bucket{le=\"1\"} 0\n"
           "batch_entries_bucket{le=\"2\"} 0\n"
           "batch_entries_bucket{le=\"+Inf\"} 0\n"
           "batch_entries_sum 0\n"
           "batch_entries_count 0\n");
}

TEST_CASE("metrics: a histogram rebuilt from its parts renders like the original") {
  histogram original{{0.5, 1}};
  original.observe(0.25);
  original.observe(0.75);
  original.observe(9);
  histogram rebuilt{original.upper_bounds(), original.bucket_counts(), original.sum()};
  CHECK(rebuilt.count() == 3);
  text_writer a, b;
  a.family("h", metric_type::histogram, "x");
  a.sample({}, original);
  b.family("h", metric_type::histogram, "x");
  b.sample({}, rebuilt);
  CHECK(a.text() == b.text());
  CHECK_THROWS_AS(histogram({0.5, 1}, {1, 2}, 0), std::invalid_argument);  // +Inf count missing
}

TEST_CASE("metrics: bounds must be finite and strictly increasing") {
  CHECK_THROWS_AS(histogram({1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(histogram({2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  CHECK_NOTHROW(histogram({}));
}

TEST_CASE("metrics: label values and HELP text are escaped") {
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(escape_help("say \"hi\"\\\nbye") == "say \"hi\"\\\\\\nbye");
  text_writer w;
  w.family("gsio_node_info", metric_type::gauge, "Line one\nline two.");
  w.sample({{"node_id", "x\"y"}}, std::uint64_t{1});
  CHECK(w.text()
        == "# HELP gsio_node_info Line one\\nline two.\n"
           "# TYPE gsio_node_info gauge\n"
           "gsio_node_info{node_id=\"x\\\"y\"} 1\n");
}

TEST_CASE("metrics: names") {
  CHECK(valid_metric_name("gsio_ledger_height"));
  CHECK(valid_metric_name("job:rate5m"));
  CHECK(valid_metric_name("_x"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_metric_name("9lives"));
  CHECK_FALSE(valid_metric_name("gsio-height"));
  CHECK_FALSE(valid_metric_name("gsio height"));
  CHECK(valid_label_name("type"));
  CHECK_FALSE(valid_label_name("__name__"));  // reserved
  CHECK_FALSE(valid_label_name("a:b"));       // colons are for metric names only
  CHECK_FALSE(valid_label_name("1a"));
}

TEST_CASE("metrics: values use Prometheus spellings") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(1) == "1");
  CHECK(format_value(0.0005) == "0.0005");
  CHECK(format_value(-2.5) == "-2.5");
  CHECK(format_value(123456.75) == "123456.75");
  CHECK(format_value(1e-7) == "1e-07");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(std::stod(format_value(0.1 + 0.2)) == 0.1 + 0.2);  // round-trips
}

TEST_CASE("metrics: misuse that would yield invalid exposition text throws") {
  text_writer w;
  CHECK_THROWS_AS(w.sample({}, std::uint64_t{1}), std::logic_error);  // no family yet
  CHECK_THROWS_AS(w.family("bad-name", metric_type::gauge, "x"), std::invalid_argument);
  w.family("c_total", metric_type::counter, "x");
  CHECK_THROWS_AS(w.family("c_total", metric_type::gauge, "x"), std::logic_error);  // twice
  CHECK_THROWS_AS(w.sample({}, -1.0), std::invalid_argument);  // counters never go down
  CHECK_THROWS_AS(w.sample({}, histogram{{1}}), std::logic_error);  // not a histogram family
  CHECK_THROWS_AS(w.sample({{"bad-label", "v"}}, std::uint64_t{1}), std::invalid_argument);
  w.family("h", metric_type::histogram, "x");
  CHECK_THROWS_AS(w.sample({}, std::uint64_t{1}), std::logic_error);  // needs a histogram
  CHECK_THROWS_AS(w.sample({{"le", "1"}}, histogram{{1}}), std::invalid_argument);
}
