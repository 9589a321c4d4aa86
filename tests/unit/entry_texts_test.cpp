// tests/vectors/entry-texts.json: entry texts, each with the verdict every verifier must give.
// The TypeScript client's tests run the same list (clients/ts/test/verify.test.mjs), so a text
// the node refuses is one the client refuses too, for the same reason.
#include <doctest/doctest.h>

#include <limits>
#include <set>
#include <string>

#include <rapidjson/document.h>

#include "ledger/entry.hpp"
#include "ledger/validation.hpp"
#include "test_util.hpp"

using namespace gsio;

namespace {

// What a node says of `text` as an entry from a peer: the parse, then every rule but the clock.
std::string verdict_of(std::string_view text) {
  ledger::entry e;
  std::string error;
  if (!ledger::from_json_text(text, e, error))
    return "malformed";
  const auto why = ledger::validate(e, {}, std::chrono::microseconds::max() / 4);
  return why ? std::string(ledger::to_string(why->code)) : "valid";
}

}  // namespace

TEST_CASE("every shared entry text gets its verdict") {
  rapidjson::Document doc;
  const auto file = test::read_file(test::vectors_dir() / "entry-texts.json");
  doc.Parse(file.data(), file.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsArray());
  CHECK(doc.Size() >= 40);
  std::set<std::string> verdicts, names;
  for (const auto& item : doc.GetArray()) {
    const std::string name = item["name"].GetString();
    const std::string_view text(item["text"].GetString(), item["text"].GetStringLength());
    const std::string expected = item["verdict"].GetString();
    CAPTURE(name);
    CAPTURE(text.substr(0, 300));
    CHECK(names.insert(name).second);
    CHECK(verdict_of(text) == expected);
    verdicts.insert(expected);
  }
  // The list covers every verdict a lone entry can get.
  CHECK(verdicts == std::set<std::string>{"valid", "malformed", "bad_hash", "bad_signature", "too_large"});
}
