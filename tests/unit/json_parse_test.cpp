// The gates in front of rapidjson's exact parse (util/json_parse.hpp).
#include <string>

#include <doctest/doctest.h>

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
