#include "actors/instrumented.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gsio::actors {

std::string with_vitals(const actor_vitals& vitals, const std::string& state_json) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("name");
  w.String(vitals.name);
  w.Key("id");
  w.Uint64(vitals.id);
  w.Key("mailbox");
  w.Uint64(vitals.mailbox);
  w.Key("uptime_ms");
  w.Int64(vitals.uptime_ms);
  w.Key("handled");
  w.Uint64(vitals.handled);
  w.EndObject();
  std::string out = "{\"actor\":";
  out.append(buf.GetString(), buf.GetSize());
  const auto body = state_json.find_first_not_of(" \t\r\n");
  if (body == std::string::npos || state_json[body] != '{') {
    // Not an object: keep it whole rather than splice into it.
    out += ",\"state\":";
    out += body == std::string::npos ? "null" : state_json.substr(body);
    out += '}';
    return out;
  }
  const auto first_member = state_json.find_first_not_of(" \t\r\n", body + 1);
  if (first_member != std::string::npos && state_json[first_member] != '}')
    out += ',';
  out.append(state_json, body + 1, std::string::npos);
  return out;
}

}  // namespace gsio::actors
