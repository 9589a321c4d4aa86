#include "actors/socket_session.hpp"

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

session_stats socket_stats(const socket_session_state& st) {
  session_stats s;
  s.socket_id = st.info.id;
  s.nsp = st.info.nsp;
  s.transport = st.info.transport == net::transport_kind::websocket ? "websocket" : "polling";
  s.remote_address = st.info.remote_address;
  s.connected_since_ms = st.connected_since_ms;
  s.events_in = st.events_in;
  s.messages_out = st.messages_out;
  s.errors = st.errors;
  return s;
}

}  // namespace gsio::actors
