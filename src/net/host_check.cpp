#include "net/host_check.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace gsio::net {
namespace {

std::string lower(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

bool is_ip_literal(const std::string& host) {
  unsigned char address[16];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

bool is_localhost_name(std::string_view host) {
  constexpr std::string_view name = "localhost";
  constexpr std::string_view suffix = ".localhost";
  return host == name ||
         (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix);
}

// Letters, digits, '-', '_' and dots between labels: what a DNS name in a Host header holds.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.')
    return false;
  if (host.find("..") != std::string_view::npos)
    return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool is_port(std::string_view text) {
  return !text.empty() && text.size() <= 5 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string host_of(std::string_view host_header) {
  std::string_view host = host_header;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos)
      return {};
    const auto rest = host.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1))))
      return {};
    std::string inner = lower(host.substr(1, close - 1));
    unsigned char address[16];
    return inet_pton(AF_INET6, inner.c_str(), address) == 1 ? inner : std::string{};
  }
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    if (!is_port(host.substr(colon + 1)))
      return {};
    host = host.substr(0, colon);
  }
  std::string name = lower(host);
  return is_dns_name(name) ? name : std::string{};
}

bool host_allowed(std::string_view host_header, const host_policy& policy) {
  if (host_header.empty() || policy.any_name)
    return true;
  const auto host = host_of(host_header);
  if (host.empty())
    return false;
  if (is_ip_literal(host) || is_localhost_name(host))
    return true;
  return std::any_of(policy.names.begin(), policy.names.end(), [&](const std::string& allowed) {
    if (allowed.front() != '.')
      return host == allowed;
    // ".example.org" covers example.org and every name under it.
    return host == std::string_view{allowed}.substr(1) ||
           (host.size() > allowed.size() && host.compare(host.size() - allowed.size(),
                                                         allowed.size(), allowed) == 0);
  });
}

host_policy parse_host_policy(std::string_view list) {
  host_policy policy;
  policy.any_name = false;
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (item.empty())
      continue;
    if (item == "*") {
      policy.any_name = true;
      continue;
    }
    const bool subdomains = item.front() == '.';
    auto name = lower(subdomains ? item.substr(1) : item);
    if (!is_dns_name(name))
      throw std::invalid_argument("not a host name: \"" + std::string{item} +
                                  "\" (expected names like node1.example.org or .example.org)");
    policy.names.push_back(subdomains ? "." + name : name);
  }
  return policy;
}

host_policy default_host_policy(const std::vector<std::string>& names) {
  host_policy policy;
  policy.any_name = false;
  for (const auto& name : names)
    if (!name.empty())
      policy.names.push_back(name);
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0)
    if (auto name = host_of(hostname); !name.empty())
      policy.names.push_back(std::move(name));
  return policy;
}

std::string describe(const host_policy& policy) {
  if (policy.any_name)
    return "any host name";
  std::string out = "IP addresses, localhost";
  for (std::size_t i = 0; i < policy.names.size(); ++i)
    out += (i + 1 == policy.names.size() ? " and " : ", ") + policy.names[i];
  return out;
}

}  // namespace gsio::net
