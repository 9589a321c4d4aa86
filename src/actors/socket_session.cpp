#include "actors/socket_session.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ledger/canonical_json.hpp"
#include "util/printable.hpp"

namespace gsio::actors {

std::string error_object(std::string_view message) {
  std::string out = "{\"error\":";
  ledger::append_canonical_string(util::valid_utf8_or_replaced(message), out);
  out += '}';
  return out;
}

std::string args_of(std::string single_json) {
  single_json.insert(single_json.begin(), '[');
  single_json.push_back(']');
  return single_json;
}

std::string socket_inspect_members(const socket_session_state& st) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  // Written as an object and unwrapped, so the writer keeps the members well-formed.
  w.StartObject();
  w.Key("socket_id");
  w.Uint64(st.info.id);
  w.Key("namespace");
  w.String(st.info.nsp.c_str());
  w.Key("transport");
  w.String(st.info.transport == net::transport_kind::websocket ? "websocket" : "polling");
  w.Key("remote_address");
  w.String(st.info.remote_address.c_str());
  w.Key("connected_since_ms");
  w.Int64(st.connected_since_ms);
  w.Key("events_in");
  w.Uint64(st.events_in);
  w.Key("messages_out");
  w.Uint64(st.messages_out);
  w.Key("errors");
  w.Uint64(st.errors);
  w.EndObject();
  std::string members{buf.GetString() + 1, buf.GetSize() - 2};
  return members;
}

}  // namespace gsio::actors
