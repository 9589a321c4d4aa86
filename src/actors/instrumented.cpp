#include "actors/instrumented.hpp"

#include "util/json_object.hpp"

namespace gsio::actors {

std::string with_vitals(const actor_vitals& vitals, const std::string& state_json) {
  util::json_object actor;
  actor.text("name", vitals.name)
    .count("id", vitals.id)
    .count("mailbox", vitals.mailbox)
    .integer("uptime_ms", vitals.uptime_ms)
    .count("handled", vitals.handled);
  std::string out = "{\"actor\":" + actor.finish();
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
