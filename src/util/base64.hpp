#pragma once
// RFC 4648 base64: the standard alphabet with padding (Engine.IO's binary packets) and the URL
// alphabet without padding (invites in links, DESIGN §10). Both decoders are strict: one
// spelling per byte string.
#include <optional>
#include <string>
#include <string_view>

namespace gsio::util {

std::string base64_encode(std::string_view bytes);
// The length must be a multiple of 4, padding only at the end, no whitespace, and the unused
// bits of the last symbol must be zero.
std::optional<std::string> base64_decode(std::string_view text);

// "-" and "_" for "+" and "/", no padding.
std::string base64url_encode(std::string_view bytes);
// No padding, no whitespace, zero unused bits.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace gsio::util
