#include "actors/peer_registry.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace gsio::actors {
namespace {

void write_record(rapidjson::Writer<rapidjson::StringBuffer>& w, const node_record& r) {
  const auto json = to_json(r, "last_seen_ms");
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

}  // namespace

peer_registry_actor::behavior_type
peer_registry(instrumented<peer_registry_actor, peer_registry_state> self, ledger_actor ledger,
              std::string node_id, std::string advertised_address,
              std::chrono::milliseconds expiry) {
  auto& st = self->state;
  st.expiry = expiry;
  self->delayed_send(self, expiry / 3, tick_atom::value);
  st.ledger = std::move(ledger);
  st.self_record.node_id = std::move(node_id);
  st.self_record.is_self = true;
  st.self_record.link = "self";
  st.self_record.address = std::move(advertised_address);
  return {
    [=](peers_atom) {
      auto promise = self->make_response_promise<std::vector<node_record>>();
      ++self->state.queries;
      self->request(self->state.ledger, caf::infinite, tip_atom::value)
        .then(
          [=](const tip_info& tip) mutable {
            auto& st = self->state;
            st.self_record.height = tip.height;
            st.self_record.tip_hash = tip.tip_hash;
            st.self_record.last_seen_ms = util::now_unix_ms();
            std::vector<node_record> all;
            all.reserve(st.peers.size() + 1);
            all.push_back(st.self_record);
            for (auto& [id, record] : st.peers)
              all.push_back(record);
            promise.deliver(std::move(all));
          },
          [=](caf::error& err) mutable { promise.deliver(std::move(err)); });
      return promise;
    },
    [=](seen_atom, node_record& record) {
      auto& st = self->state;
      if (record.node_id == st.self_record.node_id)
        return;
      auto it = st.peers.find(record.node_id);
      if (record.last_seen_ms == 0) {
        // Only heard of through another node: never overrides what we heard directly.
        if (it == st.peers.end() && st.peers.size() >= st.max_heard_of) {
          ++st.heard_of_ignored;
          return;
        }
        if (it == st.peers.end()) {
          record.last_seen_ms = util::now_unix_ms();
          st.peers.emplace(record.node_id, std::move(record));
        }
        return;
      }
      if (it == st.peers.end())
        log::info("peers", "new node ", record.node_id.substr(0, 12), " via ", record.link,
                  record.address.empty() ? "" : " at ", record.address);
      st.peers.insert_or_assign(record.node_id, std::move(record));
    },
    [=](advertise_atom, std::string& address) { self->state.self_record.address = std::move(address); },
    [=](tick_atom) {
      auto& st = self->state;
      const auto cutoff = util::now_unix_ms() - st.expiry.count();
      std::erase_if(st.peers, [&](const auto& item) {
        if (item.second.last_seen_ms >= cutoff)
          return false;
        log::info("peers", "node ", item.first.substr(0, 12), " went silent; forgetting it");
        ++st.expired;
        return true;
      });
      self->delayed_send(self, st.expiry / 3, tick_atom::value);
    },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) {
      auto& st = self->state;
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      w.StartObject();
      w.Key("self");
      write_record(w, st.self_record);
      w.Key("peers");
      w.StartArray();
      for (auto& [id, record] : st.peers)
        write_record(w, record);
      w.EndArray();
      w.Key("expired");
      w.Uint64(st.expired);
      w.Key("heard_of_ignored");
      w.Uint64(st.heard_of_ignored);
      w.Key("queries");
      w.Uint64(st.queries);
      w.EndObject();
      return inspect_with_vitals(self, std::string{buf.GetString(), buf.GetSize()});
    },
  };
}

}  // namespace gsio::actors
