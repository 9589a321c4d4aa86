#pragma once
// RFC 8785 JSON Canonicalization Scheme (JCS).
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace gsio::ledger {

// Appends the ECMAScript Number::toString form of a finite double (RFC 8785 §3.2.2.3).
// Throws std::invalid_argument for NaN and infinities, which JSON cannot carry.
void append_canonical_number(double value, std::string& out);

// Whether `text` is UTF-8 that encodes Unicode text: no overlong forms, no surrogates, nothing
// above U+10FFFF. Parsed JSON can hold strings that are not ("\udc00" decodes to ED B0 80).
bool valid_utf8(std::string_view text);

// Appends a JSON string literal escaped as RFC 8785 §3.2.2.2 requires. `utf8` must be valid UTF-8.
void append_canonical_string(std::string_view utf8, std::string& out);

// Appends the canonical form of a parsed JSON value: object members sorted by their UTF-16 code
// units, numbers as IEEE doubles in ECMAScript form, no insignificant whitespace. Throws
// std::invalid_argument (naming the problem) for duplicate member names, strings that are not
// Unicode text (a lone surrogate escape) and NaN or infinite numbers.
void append_canonical(const rapidjson::Value& value, std::string& out);
std::string canonicalize(const rapidjson::Value& value);

// Parses `json` (strict RFC 8259, UTF-8 validated, duplicate member names rejected) and writes its
// canonical form to `out`. On failure returns false and describes the problem in `error`.
bool canonicalize_text(std::string_view json, std::string& out, std::string& error);

}  // namespace gsio::ledger
