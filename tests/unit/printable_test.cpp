// Text from peers and clients made safe for terminals and logs (util/printable.hpp).
#include <string>

#include <doctest/doctest.h>

#include "util/printable.hpp"

using gsio::util::printable;

TEST_CASE("printable escapes what could drive a terminal or forge a log line") {
  CHECK(printable("plain é 😀", false) == "plain é 😀");
  // ESC ] 0 ; title BEL, a newline that would start a forged line, CSI as a C1 character.
  CHECK(printable("id\x1b]0;pwned\x07\n2026-01-01 error ledger: fake", false) ==
        "id\\u001b]0;pwned\\u0007\\u000a2026-01-01 error ledger: fake");
  CHECK(printable("a\xc2\x9b" "2J", false) == "a\\u009b2J");
  CHECK(printable("\xe2\x80\xae" "evil", false) == "\\u202eevil");  // right-to-left override
  CHECK(printable("bad \xff byte", false) == "bad \\xff byte");
  // Line breaks stay only where output may span lines.
  CHECK(printable("one\ntwo\tthree", true) == "one\ntwo\tthree");
  CHECK(printable("one\ntwo\tthree", false) == "one\\u000atwo\\u0009three");
}

TEST_CASE("valid_utf8_or_replaced keeps UTF-8 and replaces every other byte") {
  using gsio::util::valid_utf8_or_replaced;
  CHECK(valid_utf8_or_replaced("plain é 😀") == "plain é 😀");
  CHECK(valid_utf8_or_replaced("x\xed\xb4\xaey") == "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy");  // "\udd2e"
  CHECK(valid_utf8_or_replaced("\xff\xc3") == "\xef\xbf\xbd\xef\xbf\xbd");
}
