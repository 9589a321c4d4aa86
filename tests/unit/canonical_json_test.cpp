// RFC 8785 canonicalization against the RFC's reference data and 100,000 ECMAScript numbers.
#include <doctest/doctest.h>

#include <memory>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>

#include "ledger/canonical_json.hpp"
#include "test_util.hpp"

using gsio::ledger::append_canonical_number;
using gsio::ledger::canonicalize_text;

namespace {

std::string canonical(std::string_view json) {
  std::string out, error;
  REQUIRE_MESSAGE(canonicalize_text(json, out, error), error);
  return out;
}

std::string number(double value) {
  std::string out;
  append_canonical_number(value, out);
  return out;
}

std::string failure_of(std::string_view json) {
  std::string out, error;
  CHECK_FALSE(canonicalize_text(json, out, error));
  return error;
}

}  // namespace

TEST_CASE("RFC 8785 reference inputs canonicalize to the reference outputs byte for byte") {
  const auto dir = gsio::test::vectors_dir() / "jcs";
  int checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir / "input")) {
    CAPTURE(file.path().filename().string());
    const std::string expected = gsio::test::read_file(dir / "output" / file.path().filename());
    CHECK(canonical(gsio::test::read_file(file.path())) == expected);
    ++checked;
  }
  CHECK(checked == 6);
}

TEST_CASE("numbers follow ECMAScript Number::toString for 100,000 reference doubles") {
  std::istringstream lines(gsio::test::read_file(gsio::test::vectors_dir() / "jcs-numbers.txt"));
  std::string line;
  int checked = 0, wrong = 0;
  while (std::getline(lines, line)) {
    auto comma = line.find(',');
    REQUIRE(comma != std::string::npos);
    std::uint64_t bits = std::stoull(line.substr(0, comma), nullptr, 16);
    double value;
    std::memcpy(&value, &bits, sizeof value);
    const std::string expected = line.substr(comma + 1);
    if (number(value) != expected && ++wrong <= 10)
      FAIL_CHECK(line << " gave " << number(value));
    ++checked;
  }
  CHECK(checked == 100000);
  CHECK(wrong == 0);
}

TEST_CASE("number edge cases from RFC 8785 appendix B") {
  CHECK(number(0.0) == "0");
  CHECK(number(-0.0) == "0");
  CHECK(number(1e21) == "1e+21");
  CHECK(number(1e20) == "100000000000000000000");
  CHECK(number(1e-7) == "1e-7");
  CHECK(number(0.000001) == "0.000001");
  CHECK(number(9007199254740992.0) == "9007199254740992");
  CHECK(number(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(number(5e-324) == "5e-324");
  CHECK(number(-1.5) == "-1.5");
  CHECK_THROWS_AS(number(std::nan("")), std::invalid_argument);
  CHECK_THROWS_AS(number(std::numeric_limits<double>::infinity()), std::invalid_argument);
}

TEST_CASE("integers beyond 2^53 are read as IEEE doubles, as ECMAScript does") {
  CHECK(canonical("[9007199254740993]") == "[9007199254740992]");
  CHECK(canonical("[18446744073709551615]") == "[18446744073709552000]");
  CHECK(canonical("[-0.0, 1.0, 1E3, 0.1e1]") == "[0,1,1000,1]");
}

TEST_CASE("strings escape only what RFC 8785 requires") {
  CHECK(canonical(R"(["\u0001\b\t\n\f\r\"\\/\u007f\u00e9"])") == "[\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/\x7f\xc3\xa9\"]");
  CHECK(canonical(R"(["\ud83d\ude00"])") == "[\"\xf0\x9f\x98\x80\"]");
  CHECK(canonical(R"(["\u001f"])") == "[\"\\u001f\"]");
}

TEST_CASE("members sort by UTF-16 code units, not by UTF-8 bytes") {
  // U+FB01 is EF AC 81 in UTF-8 (before F0 of U+1F600) but 0xFB01 in UTF-16 (after 0xD83D).
  CHECK(canonical("{\"\xef\xac\x81\":1,\"\xf0\x9f\x98\x80\":2,\"a\":3,\"\":4}") ==
        "{\"\":4,\"a\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\x81\":1}");
  CHECK(canonical(R"({"b":{"d":1,"c":2},"a":[{"z":0,"y":1}]})") ==
        R"({"a":[{"y":1,"z":0}],"b":{"c":2,"d":1}})");
}

TEST_CASE("invalid JSON is refused with a reason") {
  CHECK(failure_of(R"({"a":1,"a":2})").find("duplicate member name \"a\"") != std::string::npos);
  CHECK(failure_of("{\"a\":\"\xff\"}").find("invalid JSON") != std::string::npos);
  CHECK(failure_of("[1] x").find("invalid JSON") != std::string::npos);
  CHECK(failure_of("[NaN]").find("invalid JSON") != std::string::npos);
  CHECK(failure_of("[1e400]").find("invalid JSON") != std::string::npos);
  CHECK(failure_of("").find("invalid JSON") != std::string::npos);
  CHECK(failure_of(R"(["\ud800"])").find("invalid JSON") != std::string::npos);
  // A lone low surrogate: the parser's encoding check lets it through as the bytes ED B0 80.
  CHECK(failure_of(R"(["\udc00"])").find("not valid Unicode text") != std::string::npos);
  CHECK(failure_of(R"({"\udfff":1})").find("not valid Unicode text") != std::string::npos);
  CHECK(canonical(R"(["\ud83d\ude00"])") == "[\"\xf0\x9f\x98\x80\"]");  // a pair is fine
  // rapidjson stops at a NUL byte as if the text ended there.
  using namespace std::string_literals;
  CHECK(failure_of("[1]\0junk"s).find("NUL byte") != std::string::npos);
  CHECK(failure_of("[\"a\0b\"]"s).find("NUL byte") != std::string::npos);
  CHECK(canonical(R"(["a\u0000b"])") == R"(["a\u0000b"])");  // an escaped NUL is a character
  // rapidjson's exact parser reads outside a table for hundreds of zero digits (found by
  // tests/fuzz); numbers are limited to 100 characters.
  CHECK(failure_of("[0." + std::string(400, '0') + "]").find("more than 100 characters") != std::string::npos);
  CHECK(failure_of("[1" + std::string(100, '0') + "]").find("more than 100 characters") != std::string::npos);
  CHECK(canonical("[1" + std::string(99, '0') + "]") == "[1e+99]");
  CHECK(canonical(R"(["0.)" + std::string(400, '0') + R"("])") == R"(["0.)" + std::string(400, '0') + R"("])");
}

TEST_CASE("canonicalize of a parsed value refuses what canonicalize_text refuses") {
  // Parsed as clients' and peers' data is: without the checks of canonicalize_text.
  auto parsed = [](const char* json) {
    auto doc = std::make_unique<rapidjson::Document>();
    doc->Parse(json);
    REQUIRE_FALSE(doc->HasParseError());
    return doc;
  };
  CHECK_THROWS_WITH_AS(gsio::ledger::canonicalize(*parsed(R"({"x":"\udc00"})")),
                       doctest::Contains("not valid Unicode text"), std::invalid_argument);
  // Seventeen members with a repeated name: the order of equal names once depended on the sort.
  CHECK_THROWS_WITH_AS(
    gsio::ledger::canonicalize(*parsed(R"({"a":1,"a":2,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,
                                          "i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0})")),
    doctest::Contains("duplicate member name \"a\""), std::invalid_argument);
  CHECK(gsio::ledger::canonicalize(*parsed(R"({"b":[1,{"d":1,"c":2}],"a":"\u00e9"})")) ==
        "{\"a\":\"\xc3\xa9\",\"b\":[1,{\"c\":2,\"d\":1}]}");
}
