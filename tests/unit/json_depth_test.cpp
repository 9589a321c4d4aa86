// The nesting gate in front of every parse of text from clients and peers (util/json_depth.hpp).
#include <string>

#include <doctest/doctest.h>

#include "util/json_depth.hpp"

using gsio::util::json_nested_deeper_than;
using gsio::util::json_nesting_depth;

TEST_CASE("nesting depth counts arrays and objects, not brackets inside strings") {
  CHECK(json_nesting_depth("1") == 0);
  CHECK(json_nesting_depth("[]") == 1);
  CHECK(json_nesting_depth(R"({"a":[1,{"b":[]}],"c":{}})") == 4);
  CHECK(json_nesting_depth(R"(["[[[[", "{{{{"])") == 1);
  CHECK(json_nesting_depth(R"(["\"[[[[\\", [[]]])") == 3);  // escaped quote, then an escaped backslash
  CHECK(json_nesting_depth(R"(["\\"])") == 1);
}

TEST_CASE("the gate stops at the limit and survives any text") {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  CHECK(json_nested_deeper_than(deep, 160));
  CHECK(json_nesting_depth(deep, 160) == 161);  // stops counting once past the limit
  CHECK(json_nesting_depth(deep) == 1'000'000);
  const std::string exactly = std::string(160, '[') + std::string(160, ']');
  CHECK_FALSE(json_nested_deeper_than(exactly, 160));
  CHECK(json_nested_deeper_than("[" + exactly + "]", 160));
  // Not JSON: unbalanced or unterminated input still gets an answer (the parser refuses it).
  CHECK(json_nesting_depth("]]]][") == 1);
  CHECK(json_nesting_depth("[\"unterminated [[[[") == 1);
  CHECK(json_nesting_depth("[\"ends in a backslash\\") == 1);
}
