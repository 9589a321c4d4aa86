#include "actors/messages.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/stats.hpp"

namespace gsio::actors {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<add_result>("gsio::add_result");
  cfg.add_message_type<tip_info>("gsio::tip_info");
  cfg.add_message_type<entries_page>("gsio::entries_page");
  cfg.add_message_type<history_query>("gsio::history_query");
  cfg.add_message_type<history_page>("gsio::history_page");
  cfg.add_message_type<reorg_event>("gsio::reorg_event");
  cfg.add_message_type<client_event>("gsio::client_event");
  cfg.add_message_type<node_record>("gsio::node_record");
  cfg.add_message_type<std::vector<node_record>>("std::vector<gsio::node_record>");
  cfg.add_message_type<merge_result>("gsio::merge_result");
  cfg.add_message_type<checked_page>("gsio::checked_page");
  cfg.add_message_type<sync_query>("gsio::sync_query");
  cfg.add_message_type<sync_answer>("gsio::sync_answer");
  cfg.add_message_type<p2p_envelope>("gsio::p2p_envelope");
  cfg.add_message_type<branch_info>("gsio::branch_info");
  cfg.add_message_type<std::vector<branch_info>>("std::vector<gsio::branch_info>");
  cfg.add_message_type<orphan_report>("gsio::orphan_report");
  cfg.add_message_type<histogram_counts>("gsio::histogram_counts");
  cfg.add_message_type<ledger_stats>("gsio::ledger_stats");
  cfg.add_message_type<pull_stats>("gsio::pull_stats");
  cfg.add_message_type<link_stats>("gsio::link_stats");
  cfg.add_message_type<sync_stats>("gsio::sync_stats");
  cfg.add_message_type<actor_vitals>("gsio::actor_vitals");
  cfg.add_message_type<gateway_stats>("gsio::gateway_stats");
  cfg.add_message_type<session_stats>("gsio::session_stats");
  cfg.add_message_type<outbound_link_stats>("gsio::outbound_link_stats");
  cfg.add_message_type<member_row>("gsio::member_row");
  cfg.add_message_type<member_change>("gsio::member_change");
  cfg.add_message_type<members_view>("gsio::members_view");
}

}  // namespace gsio::actors
