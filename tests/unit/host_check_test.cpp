#include <doctest/doctest.h>

#include <stdexcept>

#include "net/host_check.hpp"

using namespace gsio::net;

TEST_CASE("host_of: the lower-case host of a Host header, without port or brackets") {
  CHECK(host_of("Node1.Example.ORG") == "node1.example.org");
  CHECK(host_of("node1.example.org:3000") == "node1.example.org");
  CHECK(host_of("127.0.0.1:3000") == "127.0.0.1");
  CHECK(host_of("[::1]:3000") == "::1");
  CHECK(host_of("[::1]") == "::1");
  CHECK(host_of("[::1]x").empty());
  CHECK(host_of("[not-ipv6]:1").empty());
  CHECK(host_of("example.org:").empty());
  CHECK(host_of("example.org:99999x").empty());
  CHECK(host_of("exa mple.org").empty());
  CHECK(host_of("evil.example/x").empty());
  CHECK(host_of("a..b").empty());
  CHECK(host_of("::1").empty());  // an IPv6 address in a Host header needs brackets
}

TEST_CASE("host_allowed: names need listing, addresses and localhost do not") {
  const auto policy = parse_host_policy("node1.example.org, .cluster.example");
  CHECK_FALSE(policy.any_name);
  CHECK(host_allowed("node1.example.org:3000", policy));
  CHECK(host_allowed("NODE1.example.org", policy));
  CHECK(host_allowed("cluster.example", policy));
  CHECK(host_allowed("a.b.cluster.example:443", policy));
  CHECK(host_allowed("127.0.0.1:3000", policy));
  CHECK(host_allowed("10.1.2.3", policy));
  CHECK(host_allowed("[::1]:3000", policy));
  CHECK(host_allowed("localhost:3000", policy));
  CHECK(host_allowed("ui.localhost", policy));
  CHECK(host_allowed("", policy));  // HTTP/1.0 without Host: not a browser

  CHECK_FALSE(host_allowed("evil.example:3000", policy));
  CHECK_FALSE(host_allowed("node1.example.org.evil.example", policy));
  CHECK_FALSE(host_allowed("xcluster.example", policy));
  CHECK_FALSE(host_allowed("localhost.evil.example", policy));
  CHECK_FALSE(host_allowed("evil example", policy));
  CHECK_FALSE(host_allowed("[::1", policy));

  const auto only_addresses = parse_host_policy("");
  CHECK_FALSE(only_addresses.any_name);
  CHECK_FALSE(host_allowed("node1.example.org", only_addresses));
  CHECK(host_allowed("127.0.0.1:1", only_addresses));

  CHECK(host_allowed("anything.example", host_policy{}));
  CHECK(host_allowed("anything.example", parse_host_policy("a.example,*")));
}

TEST_CASE("parse_host_policy refuses what is not a host name") {
  CHECK_THROWS_AS(parse_host_policy("http://node1.example.org"), std::invalid_argument);
  CHECK_THROWS_AS(parse_host_policy("node1.example.org:3000"), std::invalid_argument);
  CHECK_THROWS_AS(parse_host_policy("a..b"), std::invalid_argument);
  CHECK_THROWS_AS(parse_host_policy("."), std::invalid_argument);
}
