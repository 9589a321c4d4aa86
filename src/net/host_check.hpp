#pragma once
// Which names a node answers to. A web page can reach a node on loopback or on a private network
// through DNS rebinding: a name of the attacker's first resolves to the attacker's server and
// then to the node's address, and the browser treats both as one origin. The page's requests then
// carry the attacker's name in their Host header, which is what this checks.

#include <string>
#include <string_view>
#include <vector>

namespace gsio::net {

struct host_policy {
  bool any_name = true;            // every name is allowed
  std::vector<std::string> names;  // lower case; ".example.org" also covers its subdomains
};

// The host part of a Host header: lower case, without the port or the brackets of an IPv6
// address. "" when the header is not a host[:port].
std::string host_of(std::string_view host_header);

// IP addresses, `localhost` and names under `.localhost` always pass (a rebinding attack needs a
// name of its own), as does a request without a Host (no browser sends one).
bool host_allowed(std::string_view host_header, const host_policy& policy);

// "*" (any name) or names separated by commas; throws std::invalid_argument naming a bad one.
host_policy parse_host_policy(std::string_view list);

// What a server answers to when not told: IP addresses, localhost, this machine's host name and
// `names` (hosts it is known by, such as the host of an advertised URL; "" entries are skipped).
host_policy default_host_policy(const std::vector<std::string>& names);

// The names a policy admits besides IP addresses and localhost, for a log line.
std::string describe(const host_policy& policy);

}  // namespace gsio::net
