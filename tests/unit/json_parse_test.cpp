// The gates in front of rapidjson's exact parse (util/json_parse.hpp).
#include <string>

#include <doctest/doctest.h>

#include <cstdint>

#include "util/json_parse.hpp"

using namespace gsio::util;
using namespace std::string_literals;

TEST_CASE("text with a NUL byte or an over-long number is refused before rapidjson sees it") {
  CHECK(exact_json_refusal(R"({"a":[1,2.5e-3,"x"]})") == nullptr);
  CHECK(std::string(exact_json_refusal("[1]\0junk"s)).find("NUL byte") != std::string::npos);
  CHECK(std::string(exact_json_refusal("[0." + std::string(99, '0') + "]")).find("100 characters") !=
        std::string::npos);
  CHECK(exact_json_refusal("[0." + std::string(98, '0') + "]") == nullptr);  // 100 characters
  CHECK(exact_json_refusal("[-1.5e-300,1," + std::string(99, '9') + "]") == nullptr);
  // Digits inside strings (escaped quotes included) are no number; a run restarts at every other
  // character.
  CHECK(exact_json_refusal(R"([")" + std::string(500, '0') + R"("])") == nullptr);
  CHECK(exact_json_refusal(R"(["\")" + std::string(500, '0') + R"("])") == nullptr);
  CHECK(exact_json_refusal("[" + std::string(60, '1') + "," + std::string(60, '1') + "]") == nullptr);
  CHECK(json_has_long_number(R"(["\\",)" + std::string(101, '1') + "]"));
}

TEST_CASE("lone surrogate escapes are found, pairs and escaped backslashes are not") {
  CHECK_FALSE(json_has_lone_surrogate(R"(["\ud83d\ude00", "\u00e9", "plain"])"));
  CHECK(json_has_lone_surrogate(R"(["\udc00"])"));
  CHECK(json_has_lone_surrogate(R"(["\ud800"])"));
  CHECK(json_has_lone_surrogate(R"(["\ud800x"])"));
  CHECK(json_has_lone_surrogate(R"(["\ud800\u0041"])"));
  CHECK(json_has_lone_surrogate(R"(["\uD83D\uD83D"])"));  // two high halves
  CHECK(json_has_lone_surrogate(R"({"\uDFFF":1})"));      // in a member name too
  CHECK_FALSE(json_has_lone_surrogate(R"(["\\udc00"])"));  // an escaped backslash, then "udc00"
  CHECK(json_has_lone_surrogate(R"(["\"\udc00"])"));    // after an escaped quote
  CHECK_FALSE(json_has_lone_surrogate(R"(\udc00)"));      // outside a string: no escape at all
  CHECK_FALSE(json_has_lone_surrogate(R"(["\ud8)"));      // cut short: left to the parser
}

TEST_CASE("parse_exact reads every number as the value its text denotes") {
  auto number = [](const std::string& text) {
    rapidjson::Document doc;
    REQUIRE_FALSE(parse_exact(doc, "[" + text + "]").IsError());
    return doc[0].GetDouble();
  };
  // rapidjson's default parse rounds these twice; its exact mode misreads the last two (found
  // by tests/fuzz: a read outside a table, a shift by a negative amount).
  CHECK(number("9.899999999999999") == 9.899999999999999);
  CHECK(number("114.99999999999999") == 114.99999999999999);
  CHECK(number("0.9452706955539223") == 0.9452706955539223);
  CHECK(number("0." + std::string(400, '0')) == 0.0);
  CHECK(number("1.1111000000014856946103865311e305") == 1.1111000000014856946103865311e305);
  // Below the smallest subnormal: zero; just above half of it: the smallest subnormal.
  CHECK(number("1e-400") == 0.0);
  CHECK(number("2.4703282292062328e-324") == 5e-324);
  CHECK(number("1.7976931348623157e308") == 1.7976931348623157e308);

  rapidjson::Document doc;
  for (const char* too_big : {"1e309", "111100000001485694610386531119E305", "-1e400"}) {
    const auto result = parse_exact(doc, std::string("[") + too_big + "]");
    CHECK(result.Code() == rapidjson::kParseErrorNumberTooBig);
  }
  // Integers that fit 64 bits stay integers, as rapidjson keeps them.
  REQUIRE_FALSE(parse_exact(doc, "[18446744073709551615,-9223372036854775808,18446744073709551616,7]").IsError());
  CHECK(doc[0].IsUint64());
  CHECK(doc[0].GetUint64() == 18446744073709551615u);
  CHECK(doc[1].IsInt64());
  CHECK(doc[1].GetInt64() == INT64_MIN);
  CHECK(doc[2].IsDouble());
  CHECK(doc[2].GetDouble() == 18446744073709551616.0);
  CHECK(doc[3].IsUint());
  CHECK(doc[3].IsInt());
  // Whatever is not JSON is refused as before, with the offset.
  const auto bad = parse_exact(doc, R"({"a":[1,2,}")");
  CHECK(bad.IsError());
  CHECK(parse_exact(doc, "[1] x").IsError());
  CHECK(parse_exact(doc, "\"\xff\"").IsError());
  CHECK(parse_exact(doc, "\xef[1]").IsError());  // rapidjson's own parse skips this byte
  CHECK(parse_exact(doc, "\xef\xbb\xbf[1]").IsError());
}
