// Request targets: one decoding rule for every server (src/util/url.hpp).
#include <doctest/doctest.h>

#include <string>

#include "util/url.hpp"

using namespace gsio::util;

TEST_CASE("percent-decoding: '+' is a space only where asked; a malformed escape is refused") {
  CHECK(percent_decode("a%20b+c") == "a b+c");
  CHECK(percent_decode("a%20b+c", plus_sign::space) == "a b c");
  CHECK(percent_decode("%2B%2b") == "++");
  CHECK(percent_decode("100%") == std::nullopt);
  CHECK(percent_decode("%4") == std::nullopt);
  CHECK(percent_decode("%zz") == std::nullopt);
  CHECK(percent_decode("%00") == std::string(1, '\0'));
  CHECK(percent_decode("") == "");
}

TEST_CASE("query parameters are read and decoded as application/x-www-form-urlencoded") {
  const std::string target = "/socket.io/?EIO=4&transport=polling&t=a%2Bb+c&flag&empty=";
  CHECK(path_of(target) == "/socket.io/");
  CHECK(query_parameter(target, "EIO") == "4");
  CHECK(query_parameter(target, "transport") == "polling");
  CHECK(query_parameter(target, "t") == "a+b c");
  CHECK(query_parameter(target, "flag") == "");
  CHECK(query_parameter(target, "empty") == "");
  CHECK(query_parameter(target, "sid") == std::nullopt);
  CHECK(has_query_parameter(target, "flag"));
  CHECK_FALSE(has_query_parameter(target, "sid"));
  // Names are decoded too, and the first of two wins.
  CHECK(query_parameter("/?to%6Ben=x&token=y", "token") == "x");
  // A bare query (no '?') reads the same; a path without a query has no parameters.
  CHECK(query_parameter("a=1&b=2", "b") == "2");
  CHECK(query_parameter("/health", "health") == std::nullopt);
  // A malformed value is no value: a token written "%zz" does not pass as "%zz".
  CHECK(query_parameter("/?token=%zz", "token") == std::nullopt);
}
