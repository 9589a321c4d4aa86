#include "net/ws_frame.hpp"

#include <cstring>

namespace gsio::net::ws {

namespace {

constexpr std::uint8_t fin_bit = 0x80;
constexpr std::uint8_t rsv_bits = 0x70;
constexpr std::uint8_t opcode_bits = 0x0F;
constexpr std::uint8_t mask_bit = 0x80;
constexpr std::uint16_t no_status = 1005;  // "no status code was present" (never sent)

bool is_control(opcode op) { return static_cast<std::uint8_t>(op) & 0x8; }

bool known_opcode(std::uint8_t op) {
  return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

// Codes a peer may send in a close frame (RFC 6455 §7.4): 1000-1003, 1007-1011 and the ranges
// for libraries and applications; 1004-1006 and 1015 are reserved, others are unassigned.
bool valid_close_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999)
    return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

// Appends `size` bytes of a frame's payload, unmasked with the frame's key.
void unmask_into(std::string& out, const char* masked, std::size_t size, const std::uint8_t key[4]) {
  const auto start = out.size();
  out.resize(start + size);
  char* dest = out.data() + start;
  std::uint32_t key32;
  std::memcpy(&key32, key, 4);
  const std::uint64_t key64 = (std::uint64_t{key32} << 32) | key32;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, masked + i, 8);
    word ^= key64;
    std::memcpy(dest + i, &word, 8);
  }
  for (; i < size; ++i)
    dest[i] = static_cast<char>(static_cast<std::uint8_t>(masked[i]) ^ key[i % 4]);
}

}  // namespace

std::size_t header_size(std::size_t payload_size) {
  if (payload_size < 126)
    return 2;
  if (payload_size <= 0xFFFF)
    return 4;
  return 10;
}

void append_header(std::string& out, opcode op, std::size_t payload_size) {
  char header[10];
  header[0] = static_cast<char>(fin_bit | static_cast<std::uint8_t>(op));
  std::size_t size = 2;
  if (payload_size < 126) {
    header[1] = static_cast<char>(payload_size);
  } else if (payload_size <= 0xFFFF) {
    header[1] = 126;
    header[2] = static_cast<char>(payload_size >> 8);
    header[3] = static_cast<char>(payload_size & 0xFF);
    size = 4;
  } else {
    header[1] = 127;
    for (int i = 0; i < 8; ++i)
      header[2 + i] = static_cast<char>((static_cast<std::uint64_t>(payload_size) >> (56 - 8 * i)) & 0xFF);
    size = 10;
  }
  out.append(header, size);
}

std::string encode_frame(opcode op, std::string_view payload) {
  std::string frame;
  frame.reserve(header_size(payload.size()) + payload.size());
  append_header(frame, op, payload.size());
  frame.append(payload);
  return frame;
}

std::string encode_close(std::uint16_t code, std::string_view reason) {
  if (code == close_code::no_status)
    return encode_frame(opcode::close, {});
  // Cutting the reason must not split a UTF-8 sequence: back up to a character boundary.
  std::size_t keep = std::min(reason.size(), max_control_payload_bytes - 2);
  while (keep > 0 && keep < reason.size() && (static_cast<std::uint8_t>(reason[keep]) & 0xC0) == 0x80)
    --keep;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, keep));
  return encode_frame(opcode::close, payload);
}

void append_masked_frame(std::string& out, opcode op, std::string_view payload,
                         std::uint32_t mask_key) {
  const auto start = out.size();
  append_header(out, op, payload.size());
  out[start + 1] = static_cast<char>(out[start + 1] | mask_bit);
  const std::uint8_t key[4] = {static_cast<std::uint8_t>(mask_key >> 24),
                               static_cast<std::uint8_t>(mask_key >> 16),
                               static_cast<std::uint8_t>(mask_key >> 8),
                               static_cast<std::uint8_t>(mask_key)};
  out.append(reinterpret_cast<const char*>(key), 4);
  unmask_into(out, payload.data(), payload.size(), key);  // masking and unmasking are one XOR
}

bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // ASCII runs are the common case in JSON: check 8 bytes at a time.
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL)
        break;
      p += 8;
    }
    if (p == end)
      break;
    const std::uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t length;
    std::uint32_t code_point;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code_point = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code_point = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code_point = c & 0x07;
    } else {
      return false;  // a continuation byte, an overlong lead (C0, C1) or above U+10FFFF (F5..)
    }
    if (static_cast<std::size_t>(end - p) < length)
      return false;
    for (std::size_t i = 1; i < length; ++i) {
      if ((p[i] & 0xC0) != 0x80)
        return false;
      code_point = (code_point << 6) | (p[i] & 0x3F);
    }
    if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
        code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
      return false;  // overlong, out of range, or a UTF-16 surrogate
    p += length;
  }
  return true;
}

parsed frame_parser::fail(std::uint16_t code, std::string why, std::size_t consumed) {
  parsed result;
  result.what = parsed::kind::failure;
  result.code = code;
  result.consumed = consumed;
  result.payload = std::move(why);
  return result;
}

parsed frame_parser::parse(std::string_view input) {
  parsed result;
  if (input.size() < 2)
    return result;
  const auto b0 = static_cast<std::uint8_t>(input[0]);
  const auto b1 = static_cast<std::uint8_t>(input[1]);
  const bool fin = b0 & fin_bit;
  const std::uint8_t raw_op = b0 & opcode_bits;
  if (b0 & rsv_bits)
    return fail(close_code::protocol_error, "reserved bits set without a negotiated extension");
  if (!known_opcode(raw_op))
    return fail(close_code::protocol_error, "unknown opcode " + std::to_string(raw_op));
  const auto op = static_cast<opcode>(raw_op);
  const bool masked = b1 & mask_bit;
  if (side_ == role::server && !masked)
    return fail(close_code::protocol_error, "a client frame must be masked");
  if (side_ == role::client && masked)
    return fail(close_code::protocol_error, "a server frame must not be masked");

  std::uint64_t length = b1 & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    if (input.size() < 4)
      return result;
    length = (std::uint64_t{static_cast<std::uint8_t>(input[2])} << 8) |
             static_cast<std::uint8_t>(input[3]);
    header = 4;
    if (length < 126)
      return fail(close_code::protocol_error, "a frame length must use the shortest encoding");
  } else if (length == 127) {
    if (input.size() < 10)
      return result;
    length = 0;
    for (int i = 0; i < 8; ++i)
      length = (length << 8) | static_cast<std::uint8_t>(input[2 + i]);
    header = 10;
    if (length >> 63)
      return fail(close_code::protocol_error, "a frame length must fit in 63 bits");
    if (length <= 0xFFFF)
      return fail(close_code::protocol_error, "a frame length must use the shortest encoding");
  }

  if (is_control(op)) {
    if (!fin)
      return fail(close_code::protocol_error, "a control frame must not be fragmented");
    if (length > max_control_payload_bytes)
      return fail(close_code::protocol_error, "a control frame carries at most 125 bytes");
  } else {
    if (op == opcode::continuation && !in_message_)
      return fail(close_code::protocol_error, "a continuation frame without a message to continue");
    if (op != opcode::continuation && in_message_)
      return fail(close_code::protocol_error, "a new message began inside a fragmented one");
    // Checked on the header, before the payload arrives, so no buffer has to grow beyond the limit.
    const std::uint64_t so_far = in_message_ ? message_.size() : 0;
    if (length > max_message_bytes_ || so_far + length > max_message_bytes_)
      return fail(close_code::message_too_big,
                  "a message above " + std::to_string(max_message_bytes_) + " bytes");
  }

  const std::size_t mask_at = header;
  if (masked)
    header += 4;
  if (input.size() < header || input.size() - header < length)
    return result;  // need_more
  std::uint8_t key[4] = {0, 0, 0, 0};  // unmasking with zeros copies
  if (masked)
    std::memcpy(key, input.data() + mask_at, 4);
  const char* body = input.data() + header;
  const auto size = static_cast<std::size_t>(length);
  result.consumed = header + size;

  if (is_control(op)) {
    std::string payload;
    unmask_into(payload, body, size, key);
    switch (op) {
      case opcode::ping:
        result.what = parsed::kind::ping;
        result.payload = std::move(payload);
        return result;
      case opcode::pong:
        result.what = parsed::kind::pong;
        result.payload = std::move(payload);
        return result;
      default:
        break;
    }
    // close
    if (payload.size() == 1)
      return fail(close_code::protocol_error, "a close frame with a 1-byte payload", result.consumed);
    result.what = parsed::kind::close;
    result.code = no_status;
    if (payload.size() >= 2) {
      result.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                               static_cast<std::uint8_t>(payload[1]));
      if (!valid_close_code(result.code))
        return fail(close_code::protocol_error,
                    "close code " + std::to_string(result.code) + " is not allowed",
                    result.consumed);
      payload.erase(0, 2);
      if (!valid_utf8(payload))
        return fail(close_code::invalid_payload, "the close reason is not UTF-8", result.consumed);
    }
    result.payload = std::move(payload);
    return result;
  }

  if (!in_message_) {
    message_op_ = op;
    message_.clear();
  }
  unmask_into(message_, body, size, key);
  if (!fin) {
    in_message_ = true;
    result.what = parsed::kind::fragment;
    return result;
  }
  in_message_ = false;
  if (message_op_ == opcode::text && !valid_utf8(message_)) {
    message_.clear();
    return fail(close_code::invalid_payload, "a text message that is not valid UTF-8",
                result.consumed);
  }
  result.what = parsed::kind::message;
  result.op = message_op_;
  result.payload = std::move(message_);
  message_ = std::string{};
  return result;
}

}  // namespace gsio::net::ws
