// util::json_object: the one writer of JSON objects at the edges (stats, /health, the envelope).
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "util/json_object.hpp"

using gsio::util::json_object;

TEST_CASE("json_object writes fields in call order, escaping strings and keeping numbers exact") {
  json_object o;
  o.text("name", "a \"quoted\"\nline")
    .count("big", 18446744073709551615ull)
    .integer("negative", -9007199254740993ll)
    .flag("ok", false)
    .text_or_null("empty", "")
    .text_or_null("full", "x")
    .texts("list", {"a", "b"})
    .table("by_kind", {{"relay", 2}, {"direct", 1}});
  CHECK(o.finish() ==
        R"({"name":"a \"quoted\"\nline","big":18446744073709551615,"negative":-9007199254740993,)"
        R"("ok":false,"empty":null,"full":"x","list":["a","b"],"by_kind":{"direct":1,"relay":2}})");
}

TEST_CASE("json_object splices raw JSON and writes nested objects or null") {
  json_object o;
  o.raw("payload", R"({"k":[1,2]})")
    .raw_or_null("none", "")
    .object_or_null("present", true, [](json_object& inner) { inner.count("n", 1); })
    .object_or_null("absent", false, [](json_object& inner) { inner.count("n", 1); });
  CHECK(o.finish() == R"({"payload":{"k":[1,2]},"none":null,"present":{"n":1},"absent":null})");
}

TEST_CASE("json_object writes an array of objects, one per item, and an empty array for none") {
  const std::vector<std::pair<std::string, int>> items{{"a", 1}, {"b", 2}};
  json_object o;
  o.objects("items", items, [](json_object& item, const auto& pair) {
     item.text("name", pair.first).count("n", static_cast<std::uint64_t>(pair.second));
   })
    .objects("none", std::vector<int>{}, [](json_object& item, int n) { item.count("n", static_cast<std::uint64_t>(n)); });
  CHECK(o.finish() == R"({"items":[{"name":"a","n":1},{"name":"b","n":2}],"none":[]})");
}

TEST_CASE("json_object writes a histogram with its total count") {
  const std::vector<double> bounds{0.5, 1};
  const std::vector<std::uint64_t> counts{3, 4, 5};
  json_object o;
  o.histogram("h", {bounds, counts, 7.25});
  CHECK(o.finish() == R"({"h":{"bounds":[0.5,1.0],"counts":[3,4,5],"sum":7.25,"count":12}})");
}
