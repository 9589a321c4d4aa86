// What a history search (find_entries) matches: ledger/entry_query.hpp.
#include <doctest/doctest.h>

#include "ledger/entry_query.hpp"

using gsio::ledger::entry;
using gsio::ledger::entry_query;
using gsio::ledger::matches;
using gsio::ledger::text_of;

namespace {

const std::string alice(64, 'a');
const std::string bob(64, 'b');

entry with(std::string data, const std::string& creator = alice, std::int64_t us = 1'700'000'000'000'000) {
  entry e;
  e.creator_node_id = creator;
  e.id = creator + "-" + std::to_string(us);
  e.data = std::move(data);
  return e;
}

entry_query nickname(std::string n) {
  entry_query q;
  q.nickname = std::move(n);
  return q;
}

entry_query text(std::string t) {
  entry_query q;
  q.text = std::move(t);
  return q;
}

}  // namespace

TEST_CASE("an empty query matches every entry") {
  CHECK(matches(with(R"({"text":"hi"})"), {}));
  CHECK(matches(with("42"), {}));
}

TEST_CASE("author is the creator's node id, exactly") {
  entry_query q;
  q.author = alice;
  CHECK(matches(with("1", alice), q));
  CHECK_FALSE(matches(with("1", bob), q));
}

TEST_CASE("nickname: a substring of the data's string field nickname, ignoring ASCII case") {
  const auto note = with(R"({"nickname":"Ada Lovelace","text":"hello","type":"note"})");
  CHECK(matches(note, nickname("ada")));
  CHECK(matches(note, nickname("LOVE")));
  CHECK_FALSE(matches(note, nickname("grace")));
  // Only the nickname field counts, not the text nor other fields.
  CHECK_FALSE(matches(note, nickname("hello")));
  CHECK_FALSE(matches(with(R"({"nick":"ada"})"), nickname("ada")));
  CHECK_FALSE(matches(with(R"({"nickname":7})"), nickname("7")));
  CHECK_FALSE(matches(with(R"("ada")"), nickname("ada")));
  // Case folding is ASCII only: a node and a browser would fold other letters differently.
  CHECK(matches(with(R"({"nickname":"Émile"})"), nickname("Émile")));
  CHECK_FALSE(matches(with(R"({"nickname":"Émile"})"), nickname("émile")));
}

TEST_CASE("text: a string, else the text, note or message field, else the JSON") {
  CHECK(text_of(with(R"("plain")")) == "plain");
  CHECK(text_of(with(R"({"message":"m","note":"n","text":"t"})")) == "t");
  CHECK(text_of(with(R"({"message":"m","note":"n"})")) == "n");
  CHECK(text_of(with(R"({"message":"m"})")) == "m");
  CHECK(text_of(with(R"({"text":5,"x":"y"})")) == R"({"text":5,"x":"y"})");
  CHECK(text_of(with("[1,2]")) == "[1,2]");

  const auto note = with(R"({"nickname":"ada","text":"Hello World","type":"note"})");
  CHECK(matches(note, text("hello w")));
  CHECK_FALSE(matches(note, text("ada")));   // the nickname is not the text
  CHECK_FALSE(matches(note, text("note")));  // nor are field names
  CHECK(matches(with(R"({"count":12345})"), text("2345")));
}

TEST_CASE("text with characters that JSON escapes is found in the value, not in its escaped form") {
  const auto quoted = with(R"({"text":"say \"hi\"\n"})");
  CHECK(matches(quoted, text("\"hi\"\n")));
  CHECK_FALSE(matches(quoted, text("\\\"hi")));
}

TEST_CASE("from_us and to_us bound the id's microsecond, inclusive") {
  const auto e = with("1", alice, 1'000'000);
  entry_query q;
  q.from_us = 1'000'000;
  q.to_us = 1'000'000;
  CHECK(matches(e, q));
  q.from_us = 1'000'001;
  CHECK_FALSE(matches(e, q));
  q.from_us = -1;
  q.to_us = 999'999;
  CHECK_FALSE(matches(e, q));
}

TEST_CASE("every field set must match") {
  auto q = nickname("ada");
  q.author = bob;
  CHECK_FALSE(matches(with(R"({"nickname":"ada"})", alice), q));
  CHECK(matches(with(R"({"nickname":"ada"})", bob), q));
}
