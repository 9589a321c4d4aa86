#pragma once
// Request targets: the path, and query parameters with one decoding rule for every server.
//
// A query is application/x-www-form-urlencoded, so '+' stands for a space there and "%2B" for a
// plus; in a path '+' is itself. An escape that is not '%' and two hex digits makes the whole
// value malformed, so that no server reads one text two ways.
#include <optional>
#include <string>
#include <string_view>

namespace gsio::util {

enum class plus_sign { literal, space };

// `text` with its %XX escapes decoded (and '+' as a space if asked); nullopt for a malformed
// escape.
std::optional<std::string> percent_decode(std::string_view text, plus_sign plus = plus_sign::literal);

// The part of a request target before '?'.
std::string_view path_of(std::string_view target);

// The decoded value of the first query parameter named `name` in `target` (or in a bare query,
// without '?'), "" for a parameter without '='; nullopt when absent or malformed.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

// Whether `target` has a query parameter named `name`, with or without a value.
bool has_query_parameter(std::string_view target, std::string_view name);

}  // namespace gsio::util
