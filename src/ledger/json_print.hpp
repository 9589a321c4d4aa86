#pragma once
// JSON printed the way the ledger writes it (RFC 8785 numbers and strings), for people and tools
// reading entries: the gsio tool and the node's debug console.
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace gsio::ledger {

// Parses JSON strictly (UTF-8 validated, full-precision numbers, bounded nesting). False with
// `error` on failure.
bool parse_json(std::string_view text, rapidjson::Document& doc, std::string& error);

// JSON text of `value`: indented by two spaces when `pretty`, else on one line. Member order is
// kept; numbers and strings are written as RFC 8785 does (the form the ledger hashes), so what is
// printed is exactly what was stored.
std::string to_json_text(const rapidjson::Value& value, bool pretty);

}  // namespace gsio::ledger
