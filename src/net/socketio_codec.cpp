#include "net/socketio_codec.hpp"

#include <array>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/json_depth.hpp"
#include "util/json_parse.hpp"

namespace gsio::net::sio {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Event names that Socket.IO reserves for its own use; a client emitting them is malformed.
constexpr std::array<std::string_view, 6> reserved_events{
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

decode_result fail(std::string message) { return decode_result{std::nullopt, std::move(message)}; }

// Parses JSON iteratively and validates UTF-8. Deeper nesting than any message needs is refused
// first: the parse would survive it, but later walks over the document recurse per level.
bool parse_json(rapidjson::Document& doc, std::string_view text) {
  // rapidjson skips the bytes of a byte order mark (EF BB BF) one by one, so "\xEF[...]" or
  // "\xBB[...]" would pass for [...]; JSON text never starts with a byte outside ASCII.
  if (util::json_nested_deeper_than(text, util::max_message_nesting) || util::holds_nul(text) ||
      (!text.empty() && static_cast<unsigned char>(text.front()) >= 0x80))
    return false;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  doc.Parse<flags>(text.data(), text.size());
  return !doc.HasParseError();
}

// Reads a decimal number of at most `max_digits` digits starting at `pos`; advances `pos`.
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& pos,
                                         std::size_t max_digits) {
  std::size_t start = pos;
  std::uint64_t value = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (pos - start == max_digits)
      return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    ++pos;
  }
  if (pos == start)
    return std::nullopt;
  return value;
}

bool is_placeholder(const rapidjson::Value& v) {
  if (!v.IsObject())
    return false;
  auto it = v.FindMember("_placeholder");
  return it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

// Every {"_placeholder":true,...} object must carry an integer `num` below `attachments`. Walks the
// tree with an explicit stack for the same reason the parser is iterative.
bool placeholders_valid(const rapidjson::Value& root, std::size_t attachments) {
  std::vector<const rapidjson::Value*> pending{&root};
  while (!pending.empty()) {
    const rapidjson::Value* v = pending.back();
    pending.pop_back();
    if (is_placeholder(*v)) {
      auto num = v->FindMember("num");
      if (num == v->MemberEnd() || !num->value.IsUint64() || num->value.GetUint64() >= attachments)
        return false;
      continue;
    }
    if (v->IsArray()) {
      for (const auto& element : v->GetArray())
        pending.push_back(&element);
    } else if (v->IsObject()) {
      for (const auto& member : v->GetObject())
        pending.push_back(&member.value);
    }
  }
  return true;
}

bool is_reserved_event(std::string_view name) {
  for (auto reserved : reserved_events)
    if (name == reserved)
      return true;
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_json_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_json_space(s.back()))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string encode(const packet& p) {
  std::string out;
  out.reserve(p.data.size() + p.nsp.size() + 24);
  out += static_cast<char>(p.type);
  if (p.type == packet_type::binary_event || p.type == packet_type::binary_ack) {
    out += std::to_string(p.attachments);
    out += '-';
  }
  if (!p.nsp.empty() && p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.id)
    out += std::to_string(*p.id);
  out += p.data;
  return out;
}

decode_result decode(std::string_view text) {
  if (text.empty())
    return fail("empty packet");
  if (text[0] < '0' || text[0] > '6')
    return fail("unknown packet type");
  packet p;
  p.type = static_cast<packet_type>(text[0]);
  std::size_t pos = 1;
  bool binary = p.type == packet_type::binary_event || p.type == packet_type::binary_ack;

  if (binary) {
    auto count = read_number(text, pos, 4);
    if (!count || pos >= text.size() || text[pos] != '-' || *count > max_attachments)
      return fail("invalid attachment count");
    p.attachments = static_cast<std::size_t>(*count);
    ++pos;
  }

  if (pos < text.size() && text[pos] == '/') {
    auto comma = text.find(',', pos);
    auto end = comma == std::string_view::npos ? text.size() : comma;
    p.nsp = std::string{text.substr(pos, end - pos)};
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  if (pos < text.size() && is_digit(text[pos])) {
    auto id = read_number(text, pos, 16);
    if (!id || *id > max_ack_id)
      return fail("invalid ack id");
    p.id = *id;
  }

  p.data = std::string{text.substr(pos)};
  rapidjson::Document doc;
  bool has_payload = !trim(p.data).empty();
  if (has_payload && !parse_json(doc, p.data))
    return fail("invalid JSON payload");

  switch (p.type) {
  case packet_type::connect:
    if (p.id || (has_payload && !doc.IsObject()))
      return fail("CONNECT payload must be an object");
    break;
  case packet_type::disconnect:
    if (p.id || has_payload)
      return fail("DISCONNECT carries no payload");
    break;
  case packet_type::connect_error:
    if (p.id || !has_payload || !(doc.IsObject() || doc.IsString()))
      return fail("CONNECT_ERROR payload must be an object or a string");
    break;
  case packet_type::event:
  case packet_type::binary_event:
    if (!has_payload || !doc.IsArray() || doc.Empty() || !doc[0].IsString())
      return fail("EVENT payload must be an array starting with the event name");
    if (is_reserved_event({doc[0].GetString(), doc[0].GetStringLength()}))
      return fail("reserved event name");
    break;
  case packet_type::ack:
  case packet_type::binary_ack:
    if (!p.id)
      return fail("ACK without an ack id");
    if (!has_payload || !doc.IsArray())
      return fail("ACK payload must be an array");
    break;
  }
  if (binary && !placeholders_valid(doc, p.attachments))
    return fail("placeholder refers to a missing attachment");
  return decode_result{std::move(p), {}};
}

std::string make_event_payload(std::string_view event, std::string_view args_array_json) {
  rapidjson::StringBuffer name;
  rapidjson::Writer<rapidjson::StringBuffer> writer{name};
  writer.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));

  std::string out = "[";
  out.append(name.GetString(), name.GetSize());
  auto args = trim(args_array_json);
  if (!args.empty() && args.front() == '[' && args.back() == ']') {
    auto inner = trim(args.substr(1, args.size() - 2));
    if (!inner.empty()) {
      out += ',';
      out += inner;
    }
  } else if (!args.empty()) {
    // Not an array: the caller passed a single value; send it as the only argument.
    out += ',';
    out += args;
  }
  out += ']';
  return out;
}

std::optional<event_parts> split_event_payload(std::string_view payload) {
  auto text = trim(payload);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']')
    return std::nullopt;
  std::size_t pos = 1;
  while (pos < text.size() && is_json_space(text[pos]))
    ++pos;
  if (pos >= text.size() || text[pos] != '"')
    return std::nullopt;
  // Find the closing quote of the event name, skipping escaped characters.
  std::size_t end = pos + 1;
  while (end < text.size() && text[end] != '"')
    end += text[end] == '\\' ? 2 : 1;
  if (end >= text.size())
    return std::nullopt;

  rapidjson::Document name;
  if (!parse_json(name, text.substr(pos, end + 1 - pos)) || !name.IsString())
    return std::nullopt;

  event_parts parts;
  parts.name.assign(name.GetString(), name.GetStringLength());
  std::size_t after = end + 1;
  while (after < text.size() && is_json_space(text[after]))
    ++after;
  if (after < text.size() && text[after] == ']') {
    parts.args_json = "[]";
  } else if (after < text.size() && text[after] == ',') {
    parts.args_json = "[";
    parts.args_json += trim(text.substr(after + 1));
  } else {
    return std::nullopt;
  }
  return parts;
}

void binary_reassembler::start(packet header) {
  header_ = std::move(header);
  attachments_.clear();
  attachments_.reserve(header_->attachments);
}

bool binary_reassembler::add(std::string attachment) {
  attachments_.push_back(std::move(attachment));
  return header_ && attachments_.size() >= header_->attachments;
}

binary_reassembler::complete_packet binary_reassembler::take() {
  complete_packet out{std::move(*header_), std::move(attachments_)};
  reset();
  return out;
}

void binary_reassembler::reset() {
  header_.reset();
  attachments_.clear();
}

}  // namespace gsio::net::sio
