#include "net/p2p_socketio.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/hex.hpp"
#include "util/json_parse.hpp"
#include "util/secret.hpp"

namespace gsio::net::p2p_socketio {

std::string auth_payload(std::string_view token) {
  if (token.empty())
    return {};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("token");
  w.String(token.data(), static_cast<rapidjson::SizeType>(token.size()));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

bool auth_matches(std::string_view auth_json, std::string_view token) {
  rapidjson::Document auth;
  if (util::exact_json_refusal(auth_json) || util::parse_exact(auth, auth_json).IsError() ||
      !auth.IsObject())
    return false;
  auto it = auth.FindMember("token");
  return it != auth.MemberEnd() && it->value.IsString() &&
         util::same_secret({it->value.GetString(), it->value.GetStringLength()}, token);
}

std::string challenge_args(std::string_view challenge) {
  return "[{\"challenge\":\"" + std::string(challenge) + "\"}]";
}

std::optional<std::string> challenge_of(std::string_view args_json) {
  if (util::exact_json_refusal(args_json))
    return std::nullopt;
  rapidjson::Document doc;
  if (util::parse_exact(doc, args_json).IsError() || !doc.IsArray() || doc.Empty() || !doc[0].IsObject())
    return std::nullopt;
  auto it = doc[0].FindMember("challenge");
  if (it == doc[0].MemberEnd() || !it->value.IsString())
    return std::nullopt;
  std::string challenge{it->value.GetString(), it->value.GetStringLength()};
  if (!util::is_lower_hex(challenge, 64))
    return std::nullopt;
  return challenge;
}

std::optional<std::string> envelope_of(std::string_view args_json) {
  if (util::exact_json_refusal(args_json))
    return std::nullopt;
  rapidjson::Document doc;
  if (util::parse_exact(doc, args_json).IsError() || !doc.IsArray() || doc.Empty() ||
      !doc[0].IsObject())
    return std::nullopt;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  doc[0].Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string args_of(std::string_view envelope_json) {
  std::string args;
  args.reserve(envelope_json.size() + 2);
  args.push_back('[');
  args.append(envelope_json);
  args.push_back(']');
  return args;
}

}  // namespace gsio::net::p2p_socketio
