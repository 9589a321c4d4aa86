#include "ledger/membership.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include <rapidjson/document.h>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/canonical_json.hpp"
#include "util/base64.hpp"
#include "util/hex.hpp"
#include "util/json_parse.hpp"

namespace gsio::ledger {

std::string_view to_string(role r) {
  switch (r) {
    case role::admin: return "admin";
    case role::node: return "node";
    case role::author: return "author";
    case role::reader: return "reader";
  }
  return "reader";
}

std::optional<role> role_from_string(std::string_view text) {
  for (role r : {role::admin, role::node, role::author, role::reader})
    if (to_string(r) == text)
      return r;
  return std::nullopt;
}

std::string_view to_string(read_policy p) { return p == read_policy::anyone ? "anyone" : "members"; }

const member* membership_state::find(std::string_view key) const {
  auto it = members.find(key);
  return it == members.end() ? nullptr : &it->second;
}

bool membership_state::has_role(std::string_view key, role r) const {
  const member* m = find(key);
  return m && m->r == r;
}

std::size_t membership_state::admin_count() const {
  return static_cast<std::size_t>(std::count_if(
    members.begin(), members.end(), [](const auto& kv) { return kv.second.r == role::admin; }));
}

std::string signed_digest(std::string_view domain, std::string_view network_id,
                          std::string_view canonical_without_sig) {
  std::string message;
  message.reserve(domain.size() + network_id.size() + canonical_without_sig.size() + 2);
  message.append(domain).push_back('\n');
  message.append(network_id).push_back('\n');
  message.append(canonical_without_sig);
  return crypto::sha256_hex(message);
}

std::string client_proof_digest(std::string_view network_id, std::string_view node_id,
                                std::string_view challenge, std::string_view key) {
  std::string object = "{\"challenge\":";
  append_canonical_string(challenge, object);
  object += ",\"key\":";
  append_canonical_string(key, object);
  object += ",\"node\":";
  append_canonical_string(node_id, object);
  object += '}';
  return signed_digest(client_domain, network_id, object);
}

namespace {

using json = rapidjson::Value;
constexpr std::size_t max_nick_bytes = 64;
constexpr double max_exact_integer = 9007199254740991.0;  // 2^53 - 1: exact in every JSON reader

bool parse_object(std::string_view text, rapidjson::Document& doc) {
  if (util::exact_json_refusal(text))
    return false;
  return !util::parse_exact(doc, text).IsError() && doc.IsObject();
}

// The object has exactly the members named (`optional` ones may be missing) and no others: one
// object, one meaning, and nothing unsigned rides along.
bool has_only(const json& object, std::initializer_list<std::string_view> required,
              std::initializer_list<std::string_view> optional = {}) {
  std::size_t found = 0;
  for (auto name : required)
    if (object.HasMember(json(rapidjson::StringRef(name.data(), name.size()))))
      ++found;
  if (found != required.size())
    return false;
  for (const auto& m : object.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (std::find(required.begin(), required.end(), name) == required.end() &&
        std::find(optional.begin(), optional.end(), name) == optional.end())
      return false;
  }
  return true;
}

std::optional<std::string_view> string_member(const json& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString())
    return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

std::optional<std::string_view> key_member(const json& object, const char* name) {
  auto text = string_member(object, name);
  return text && util::is_lower_hex(*text, 64) ? text : std::nullopt;
}

std::optional<std::int64_t> integer_member(const json& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsNumber())
    return std::nullopt;
  const double d = it->value.GetDouble();
  if (!(d >= 0 && d <= max_exact_integer) || std::floor(d) != d)
    return std::nullopt;
  return static_cast<std::int64_t>(d);
}

std::optional<std::string> nick_member(const json& object) {
  if (!object.HasMember("nick"))
    return std::string{};
  auto nick = string_member(object, "nick");
  if (!nick || nick->size() > max_nick_bytes)
    return std::nullopt;
  return std::string(*nick);
}

// Canonical JSON of `object` without its "sig" member.
std::string canonical_without_sig(const json& object) {
  rapidjson::Document copy;
  copy.CopyFrom(object, copy.GetAllocator());
  copy.RemoveMember("sig");
  return canonicalize(copy);
}

// Whether object["sig"] is `signer`'s signature over the object without it.
bool signature_holds(const json& object, std::string_view domain, std::string_view network_id,
                     std::string_view signer) {
  auto sig = string_member(object, "sig");
  if (!sig || !util::is_lower_hex(*sig, 128))
    return false;
  return crypto::verify_hex(signer, signed_digest(domain, network_id, canonical_without_sig(object)), *sig);
}

std::string sign_object(const crypto::identity& signer, std::string_view domain,
                        std::string_view network_id, rapidjson::Document& object) {
  object.RemoveMember("sig");
  const std::string sig = signer.sign_hash(signed_digest(domain, network_id, canonicalize(object)));
  object.AddMember("sig", rapidjson::Value(sig.c_str(), object.GetAllocator()), object.GetAllocator());
  return canonicalize(object);
}

rejection refuse(reject_code code, const entry& e, std::string rule) {
  return {code, "entry " + e.id + ": " + std::move(rule)};
}

admission refused(reject_code code, const entry& e, std::string rule) {
  return {refuse(code, e, std::move(rule)), nullptr, std::nullopt};
}

std::string short_key(std::string_view key) { return std::string(key.substr(0, 16)); }

admission admit_charter(const entry& e, std::string_view network_id, const json& data) {
  using enum reject_code;
  if (e.hash != network_id)
    return refused(wrong_network, e,
                   "the first entry must be the charter of network " + std::string(network_id));
  if (!has_only(data, {"gsio", "name", "admins", "read", "write", "members", "sig"}))
    return refused(bad_statement, e, "a charter has exactly gsio, name, admins, read, write, members, sig");
  auto name = string_member(data, "name");
  auto read = string_member(data, "read");
  auto write = string_member(data, "write");
  const json& admins = data["admins"];
  const json& members = data["members"];
  if (!name || name->empty() || name->size() > 128 || !read || (*read != "members" && *read != "anyone") ||
      !write || *write != "members" || !admins.IsArray() || admins.Empty() || !members.IsArray())
    return refused(bad_statement, e,
                   "charter fields: a name of 1-128 bytes, admins a non-empty array of keys, read "
                   "\"members\" or \"anyone\", write \"members\", members an array");
  auto state = std::make_shared<membership_state>();
  state->network_id = e.hash;
  state->name = std::string(*name);
  state->read = *read == "anyone" ? read_policy::anyone : read_policy::members;
  for (const auto& admin : admins.GetArray()) {
    if (!admin.IsString() || !util::is_lower_hex(admin.GetString(), 64))
      return refused(bad_statement, e, "a charter admin must be a 64-hex key");
    state->members[admin.GetString()] = member{role::admin, "", e.unix_us(), e.creator_node_id};
  }
  if (state->members.size() != admins.Size())
    return refused(bad_statement, e, "a charter names an admin twice");
  if (admins[0].GetString() != e.creator_node_id)
    return refused(bad_statement, e, "the charter must be created by its first admin");
  for (const auto& m : members.GetArray()) {
    if (!m.IsObject() || !has_only(m, {"key", "role"}, {"nick"}))
      return refused(bad_statement, e, "a charter member is {key, role, nick?}");
    auto key = key_member(m, "key");
    auto r = string_member(m, "role");
    auto nick = nick_member(m);
    const auto parsed = role_from_string(r.value_or(""));
    if (!key || !parsed || !nick)
      return refused(bad_statement, e, "a charter member needs a 64-hex key, a role and a nick of at most 64 bytes");
    if (!state->members.emplace(std::string(*key), member{*parsed, *nick, e.unix_us(), e.creator_node_id}).second)
      return refused(bad_statement, e, "a charter names key " + short_key(*key) + " twice");
  }
  if (!signature_holds(data, charter_domain, "", e.creator_node_id))
    return refused(bad_signature, e, "the charter's signature by its first admin is invalid");
  return {std::nullopt, std::move(state), std::nullopt};
}

admission admit_statement(const membership_ptr& s, const entry& e, const json& data) {
  using enum reject_code;
  auto op = string_member(data, "op");
  const bool add = op && *op == "add";
  if (!op || (!add && *op != "remove") ||
      !(add ? has_only(data, {"gsio", "network", "op", "key", "role", "at", "by", "sig"}, {"nick"})
            : has_only(data, {"gsio", "network", "op", "key", "at", "by", "sig"})))
    return refused(bad_statement, e,
                   "a statement is {gsio, network, op: add, key, role, nick?, at, by, sig} or "
                   "{gsio, network, op: remove, key, at, by, sig}");
  auto network = string_member(data, "network");
  auto key = key_member(data, "key");
  auto by = key_member(data, "by");
  auto at = integer_member(data, "at");
  auto nick = nick_member(data);
  std::optional<role> r;
  if (add)
    if (auto text = string_member(data, "role"))
      r = role_from_string(*text);
  if (!network || !key || !by || !at || !nick || (add && !r))
    return refused(bad_statement, e, "statement fields: 64-hex key and by, integer at, a known role, nick of at most 64 bytes");
  if (*network != s->network_id)
    return refused(wrong_network, e, "the statement is for network " + std::string(*network));
  if (!s->has_role(*by, role::admin))
    return refused(not_member, e, "statement signer " + short_key(*by) + " is not an admin here");
  if (auto last = s->last_statement_at.find(*key); last != s->last_statement_at.end() && *at <= last->second)
    return refused(bad_statement, e,
                   "a statement about " + short_key(*key) + " must be newer than the last one on its "
                   "chain (a replayed statement)");
  const member* current = s->find(*key);
  if (!add && !current)
    return refused(bad_statement, e, "key " + short_key(*key) + " is not a member");
  if (!add && current->r == role::admin && s->admin_count() == 1)
    return refused(bad_statement, e, "the last admin cannot be removed");
  if (!signature_holds(data, statement_domain, s->network_id, *by))
    return refused(bad_signature, e, "the statement's signature by " + short_key(*by) + " is invalid");
  auto next = std::make_shared<membership_state>(*s);
  next->last_statement_at[std::string(*key)] = *at;
  if (add)
    next->members[std::string(*key)] = member{*r, *nick, e.unix_us(), std::string(*by)};
  else
    next->members.erase(std::string(*key));
  return {std::nullopt, std::move(next), std::nullopt};
}

struct parsed_invite {
  std::string_view network, nonce, by;
  role r = role::reader;
  std::int64_t expires = 0;
};

std::optional<parsed_invite> parse_invite(const json& invite, std::string& error) {
  if (!invite.IsObject() || !has_only(invite, {"gsio", "network", "role", "expires", "nonce", "by", "sig"})) {
    error = "an invite is {gsio: invite, network, role, expires, nonce, by, sig}";
    return std::nullopt;
  }
  parsed_invite out;
  auto kind = string_member(invite, "gsio");
  auto network = key_member(invite, "network");
  auto r = string_member(invite, "role");
  auto expires = integer_member(invite, "expires");
  auto nonce = string_member(invite, "nonce");
  auto by = key_member(invite, "by");
  const auto parsed_role = role_from_string(r.value_or(""));
  if (!kind || *kind != "invite" || !network || !parsed_role || *parsed_role == role::admin || !expires ||
      !nonce || !util::is_lower_hex(*nonce, 32) || !by) {
    error = "invite fields: 64-hex network and by, role node, author or reader, integer expires, "
            "32-hex nonce";
    return std::nullopt;
  }
  if (!signature_holds(invite, invite_domain, *network, *by)) {
    error = "the invite's signature by " + short_key(*by) + " is invalid";
    return std::nullopt;
  }
  out.network = *network;
  out.nonce = *nonce;
  out.by = *by;
  out.r = *parsed_role;
  out.expires = *expires;
  return out;
}

admission admit_redemption(const membership_ptr& s, const entry& e, const json& data) {
  using enum reject_code;
  if (!has_only(data, {"gsio", "invite", "key", "sig"}, {"nick"}))
    return refused(bad_statement, e, "a redemption is {gsio: redeem, invite, key, nick?, sig}");
  auto key = key_member(data, "key");
  auto nick = nick_member(data);
  if (!key || !nick)
    return refused(bad_statement, e, "redemption fields: a 64-hex key and a nick of at most 64 bytes");
  std::string error;
  auto invite = parse_invite(data["invite"], error);
  if (!invite)
    return refused(bad_statement, e, error);
  if (invite->network != s->network_id)
    return refused(wrong_network, e, "the invite is for network " + std::string(invite->network));
  if (!s->has_role(invite->by, role::admin))
    return refused(not_member, e, "invite signer " + short_key(invite->by) + " is not an admin here");
  if (e.unix_us() > invite->expires)
    return refused(invite_expired, e, "the invite expired before this entry's time");
  if (s->used_nonces.count(invite->nonce))
    return refused(invite_used, e, "the invite was already redeemed on this chain");
  if (s->find(*key))
    return refused(bad_statement, e, "key " + short_key(*key) + " is already a member");
  // A new node's redemption is its own first entry; any other is brought in by a member node.
  const bool self_admitted = invite->r == role::node && e.creator_node_id == *key;
  if (!self_admitted && !s->has_role(e.creator_node_id, role::node))
    return refused(not_member, e, "creator " + short_key(e.creator_node_id) + " is not a member node");
  if (!signature_holds(data, redeem_domain, s->network_id, *key))
    return refused(bad_signature, e, "the redemption's signature by " + short_key(*key) + " is invalid");
  auto next = std::make_shared<membership_state>(*s);
  next->used_nonces.emplace(invite->nonce);
  next->members[std::string(*key)] = member{invite->r, *nick, e.unix_us(), std::string(invite->by)};
  return {std::nullopt, std::move(next), std::nullopt};
}

// An ordinary entry: a member node made it, and its author block (if any) is a member author's.
admission admit_content(const membership_ptr& s, const entry& e, const json* data) {
  using enum reject_code;
  if (!s->has_role(e.creator_node_id, role::node))
    return refused(not_member, e, "creator " + short_key(e.creator_node_id) + " is not a member node");
  if (!data || !data->HasMember("author"))
    return {std::nullopt, s, std::nullopt};
  const json& block = (*data)["author"];
  if (!block.IsObject() || !has_only(block, {"key", "time", "sig"}))
    return refused(bad_author, e, "an author block is {key, time, sig}");
  auto key = key_member(block, "key");
  auto time = integer_member(block, "time");
  auto sig = string_member(block, "sig");
  if (!key || !time || !sig || !util::is_lower_hex(*sig, 128))
    return refused(bad_author, e, "author block fields: a 64-hex key, an integer time, a 128-hex sig");
  if (!s->has_role(*key, role::author))
    return refused(not_member, e, "author " + short_key(*key) + " is not a member author");
  if (*time > e.unix_us() + author_time_after_entry_us || *time + author_time_before_entry_us < e.unix_us())
    return refused(bad_author, e, "the author's time is more than an hour before or five minutes after the entry's");
  rapidjson::Document unsigned_data;
  unsigned_data.CopyFrom(*data, unsigned_data.GetAllocator());
  unsigned_data["author"].RemoveMember("sig");
  if (!crypto::verify_hex(*key, signed_digest(author_domain, s->network_id, canonicalize(unsigned_data)), *sig))
    return refused(bad_author, e, "the author's signature by " + short_key(*key) + " is invalid");
  return {std::nullopt, s, author_ref{std::string(*key), *time}};
}

}  // namespace

bool is_membership_data(std::string_view data) {
  return data.starts_with('{') && data.find("\"gsio\":") != std::string_view::npos;
}

admission admit(const membership_ptr& at_parent, const entry& e, std::string_view network_id) {
  using enum reject_code;
  // Parse only what may carry membership: ordinary data without "gsio" or "author" members
  // costs a substring search, not a parse.
  rapidjson::Document doc;
  const bool may_matter = e.data.starts_with('{') && (e.data.find("\"gsio\":") != std::string::npos ||
                                                       e.data.find("\"author\":") != std::string::npos);
  const bool parsed = may_matter && parse_object(e.data, doc);
  std::string_view kind;
  if (parsed)
    if (auto text = string_member(doc, "gsio"))
      kind = *text;
  if (!at_parent) {
    if (kind != "charter")
      return refused(wrong_network, e, "the first entry must be the charter of network " + std::string(network_id));
    return admit_charter(e, network_id, doc);
  }
  if (parsed && doc.HasMember("gsio")) {
    if (kind == "member" || kind == "redeem") {
      if (kind == "redeem")
        return admit_redemption(at_parent, e, doc);
      if (!at_parent->has_role(e.creator_node_id, role::node))
        return refused(not_member, e, "creator " + short_key(e.creator_node_id) + " is not a member node");
      return admit_statement(at_parent, e, doc);
    }
    return refused(bad_statement, e,
                   kind == "charter" ? std::string("a charter can only be the first entry")
                                     : "data member \"gsio\" must name a statement (member) or a redemption (redeem)");
  }
  return admit_content(at_parent, e, parsed ? &doc : nullptr);
}

std::vector<membership_change> membership_diff(const membership_state* before,
                                               const membership_state& after, const entry& e) {
  std::vector<membership_change> out;
  for (const auto& [key, m] : after.members) {
    const member* old = before ? before->find(key) : nullptr;
    if (!old || old->r != m.r)
      out.push_back({true, key, m.r, m.nick, m.admitted_by});
  }
  if (!before)
    return out;
  std::string signer;
  rapidjson::Document doc;
  if (parse_object(e.data, doc))
    if (auto by = key_member(doc, "by"))
      signer = std::string(*by);
  for (const auto& [key, m] : before->members)
    if (!after.find(key))
      out.push_back({false, key, m.r, m.nick, signer});
  return out;
}

namespace {

// check_node_admission for one admission object (a statement or a redemption), against the
// admins of `s`.
std::optional<std::string> check_admission_object(const membership_state& s, std::string_view key,
                                                  const json& proof) {
  const std::string who = "node " + short_key(key);
  if (!proof.IsObject())
    return "an admission is a JSON object";
  const auto kind = string_member(proof, "gsio").value_or("");
  if (kind == "member") {
    if (string_member(proof, "op").value_or("") != "add" || key_member(proof, "key").value_or("") != key ||
        string_member(proof, "role").value_or("") != "node")
      return "the statement does not add " + who + " as a node";
    if (string_member(proof, "network").value_or("") != s.network_id)
      return "the statement is for another network";
    const auto by = key_member(proof, "by").value_or("");
    if (!s.has_role(by, role::admin))
      return "the statement is not signed by an admin of the charter";
    if (!signature_holds(proof, statement_domain, s.network_id, by))
      return "the statement's signature is invalid";
    return std::nullopt;
  }
  if (kind == "redeem") {
    if (key_member(proof, "key").value_or("") != key || !proof.HasMember("invite"))
      return "the redemption does not admit " + who;
    std::string error;
    auto invite = parse_invite(proof["invite"], error);
    if (!invite)
      return error;
    if (invite->network != s.network_id)
      return "the invite is for another network";
    if (invite->r != role::node)
      return "the invite does not admit a node";
    if (!s.has_role(invite->by, role::admin))
      return "the invite is not signed by an admin of the charter";
    if (!signature_holds(proof, redeem_domain, s.network_id, key))
      return "the redemption's signature is invalid";
    return std::nullopt;
  }
  return "the admission proof must be a statement (gsio: member) or a redemption (gsio: redeem)";
}

// The admins an admin chain adds to `s`, checked in order: each an `add` statement of role admin,
// signed by an admin of `s` or by one the chain added before it. False (with `why`) otherwise.
bool follow_admin_chain(membership_state& s, const json& chain, rapidjson::SizeType count, std::string& why) {
  for (rapidjson::SizeType i = 0; i < count; ++i) {
    const json& link = chain[i];
    const auto key = link.IsObject() ? key_member(link, "key") : std::nullopt;
    const auto by = link.IsObject() ? key_member(link, "by") : std::nullopt;
    if (!key || !by || string_member(link, "gsio").value_or("") != "member" ||
        string_member(link, "op").value_or("") != "add" || string_member(link, "role").value_or("") != "admin" ||
        string_member(link, "network").value_or("") != s.network_id) {
      why = "link " + std::to_string(i + 1) + " of the admin chain is not a statement adding an admin";
      return false;
    }
    if (!s.has_role(*by, role::admin) || !signature_holds(link, statement_domain, s.network_id, *by)) {
      why = "link " + std::to_string(i + 1) + " of the admin chain is not signed by an admin before it";
      return false;
    }
    s.members[std::string(*key)] = member{role::admin, {}, 0, std::string(*by)};
  }
  return true;
}

}  // namespace

std::optional<std::string> check_node_admission(const membership_state& founded, std::string_view key,
                                                std::string_view proof_json) {
  if (proof_json.empty())
    return founded.has_role(key, role::node)
             ? std::nullopt
             : std::optional<std::string>("node " + short_key(key) + " is not a node of the charter and shows no admission");
  rapidjson::Document proof;
  if (!proof_json.starts_with('[')) {
    if (!parse_object(proof_json, proof))
      return "the admission proof is not a JSON object";
    return check_admission_object(founded, key, proof);
  }
  if (util::exact_json_refusal(proof_json) || util::parse_exact(proof, proof_json).IsError() || !proof.IsArray() ||
      proof.Empty() || proof.Size() > max_admin_chain + 1)
    return "the admission proof is an admission, or an array of at most " + std::to_string(max_admin_chain) +
           " admin statements and the admission";
  membership_state known = founded;
  std::string why;
  if (!follow_admin_chain(known, proof, proof.Size() - 1, why))
    return why;
  return check_admission_object(known, key, proof[proof.Size() - 1]);
}

std::string last_admission(std::string_view proof_json) {
  if (!proof_json.starts_with('['))
    return std::string(proof_json);
  rapidjson::Document proof;
  if (util::exact_json_refusal(proof_json) || util::parse_exact(proof, proof_json).IsError() || !proof.IsArray() ||
      proof.Empty() || !proof[proof.Size() - 1].IsObject())
    return {};
  return canonicalize(proof[proof.Size() - 1]);
}

std::string admission_signer(std::string_view data_json) {
  rapidjson::Document data;
  if (!parse_object(data_json, data))
    return {};
  const auto kind = string_member(data, "gsio").value_or("");
  if (kind == "member")
    return std::string(key_member(data, "by").value_or(""));
  if (kind == "redeem" && data.HasMember("invite") && data["invite"].IsObject())
    return std::string(key_member(data["invite"], "by").value_or(""));
  return {};
}

std::optional<std::string> check_node_reader(const membership_state& tip, std::string_view key,
                                             std::string_view proof_json, std::int64_t now_us) {
  const std::string who = "node " + short_key(key);
  if (tip.has_role(key, role::node))
    return std::nullopt;
  if (const auto* m = tip.find(key))
    return who + " is a " + std::string(to_string(m->r)) + ", not a node";
  if (tip.last_statement_at.contains(key))
    return who + " was removed";
  if (proof_json.empty())
    return who + " is not a member and shows no admission";
  // The tip knows every admin (and every removal), so an admin chain adds nothing here.
  const std::string admission = last_admission(proof_json);
  if (auto why = check_node_admission(tip, key, admission.empty() ? std::string_view{"[]"} : admission))
    return why;
  // The admission is not on this chain (yet): a statement by an admin here about a key with no
  // statement on this chain, or a redemption, whose invite must still be unspent and unexpired.
  rapidjson::Document proof;
  parse_object(admission, proof);
  auto it = proof.FindMember("invite");
  if (it == proof.MemberEnd())
    return std::nullopt;  // a statement (check_node_admission took nothing else)
  std::string error;
  const auto invite = parse_invite(it->value, error);
  if (!invite)
    return error;
  if (tip.used_nonces.contains(invite->nonce))
    return who + "'s invite was redeemed by another key";
  if (invite->expires < now_us)
    return who + "'s invite has expired";
  return std::nullopt;
}

std::optional<author_ref> author_of(const entry& e) {
  if (!e.data.starts_with('{') || e.data.find("\"author\":") == std::string::npos)
    return std::nullopt;
  rapidjson::Document doc;
  if (!parse_object(e.data, doc))
    return std::nullopt;
  auto it = doc.FindMember("author");
  if (it == doc.MemberEnd() || !it->value.IsObject())
    return std::nullopt;
  auto key = key_member(it->value, "key");
  auto time = integer_member(it->value, "time");
  if (!key || !time)
    return std::nullopt;
  return author_ref{std::string(*key), *time};
}

entry make_charter(const crypto::identity& admin, const charter_fields& fields, std::int64_t unix_us) {
  rapidjson::Document data(rapidjson::kObjectType);
  auto& a = data.GetAllocator();
  auto text = [&a](std::string_view s) { return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); };
  data.AddMember("gsio", "charter", a);
  data.AddMember("name", text(fields.name), a);
  rapidjson::Value admins(rapidjson::kArrayType);
  admins.PushBack(text(admin.node_id()), a);
  data.AddMember("admins", admins, a);
  data.AddMember("read", text(to_string(fields.read)), a);
  data.AddMember("write", "members", a);
  rapidjson::Value members(rapidjson::kArrayType);
  for (const auto& m : fields.members) {
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("key", text(m.key), a);
    item.AddMember("role", text(to_string(m.r)), a);
    if (!m.nick.empty())
      item.AddMember("nick", text(m.nick), a);
    members.PushBack(item, a);
  }
  data.AddMember("members", members, a);
  return make_entry(admin, sign_object(admin, charter_domain, "", data), std::string(genesis_hash), unix_us);
}

std::string make_statement(const crypto::identity& admin, std::string_view network_id, bool add,
                           std::string_view key, role r, std::string_view nick, std::int64_t at_us) {
  rapidjson::Document data(rapidjson::kObjectType);
  auto& a = data.GetAllocator();
  auto text = [&a](std::string_view s) { return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); };
  data.AddMember("gsio", "member", a);
  data.AddMember("network", text(network_id), a);
  data.AddMember("op", text(add ? "add" : "remove"), a);
  data.AddMember("key", text(key), a);
  if (add) {
    data.AddMember("role", text(to_string(r)), a);
    if (!nick.empty())
      data.AddMember("nick", text(nick), a);
  }
  data.AddMember("at", static_cast<std::int64_t>(at_us), a);
  data.AddMember("by", text(admin.node_id()), a);
  return sign_object(admin, statement_domain, network_id, data);
}

std::string make_invite(const crypto::identity& admin, std::string_view network_id, role r,
                        std::int64_t expires_us, std::string_view nonce_hex) {
  rapidjson::Document data(rapidjson::kObjectType);
  auto& a = data.GetAllocator();
  auto text = [&a](std::string_view s) { return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); };
  data.AddMember("gsio", "invite", a);
  data.AddMember("network", text(network_id), a);
  data.AddMember("role", text(to_string(r)), a);
  data.AddMember("expires", static_cast<std::int64_t>(expires_us), a);
  data.AddMember("nonce", text(nonce_hex), a);
  data.AddMember("by", text(admin.node_id()), a);
  return sign_object(admin, invite_domain, network_id, data);
}

std::string make_redemption(const crypto::identity& redeemer, std::string_view invite_json,
                            std::string_view nick) {
  rapidjson::Document invite;
  if (!parse_object(invite_json, invite))
    throw std::invalid_argument("an invite must be a JSON object");
  std::string error;
  auto view = parse_invite(invite, error);
  if (!view)
    throw std::invalid_argument(error);
  rapidjson::Document data(rapidjson::kObjectType);
  auto& a = data.GetAllocator();
  data.AddMember("gsio", "redeem", a);
  rapidjson::Value copy;
  copy.CopyFrom(invite, a);
  data.AddMember("invite", copy, a);
  data.AddMember("key", rapidjson::Value(redeemer.node_id().c_str(), a), a);
  if (!nick.empty())
    data.AddMember("nick", rapidjson::Value(nick.data(), static_cast<rapidjson::SizeType>(nick.size()), a), a);
  return sign_object(redeemer, redeem_domain, view->network, data);
}

std::string add_author_block(const crypto::identity& author, std::string_view network_id,
                             std::string_view data_json, std::int64_t time_us) {
  rapidjson::Document data;
  if (!parse_object(data_json, data) || data.HasMember("author") || data.HasMember("gsio"))
    throw std::invalid_argument("author data must be a JSON object without \"author\" or \"gsio\"");
  auto& a = data.GetAllocator();
  rapidjson::Value block(rapidjson::kObjectType);
  block.AddMember("key", rapidjson::Value(author.node_id().c_str(), a), a);
  block.AddMember("time", static_cast<std::int64_t>(time_us), a);
  data.AddMember("author", block, a);
  const std::string sig = author.sign_hash(signed_digest(author_domain, network_id, canonicalize(data)));
  data["author"].AddMember("sig", rapidjson::Value(sig.c_str(), a), a);
  return canonicalize(data);
}

std::optional<invite_view> read_invite(std::string_view invite_json, std::string& error) {
  rapidjson::Document doc;
  if (!parse_object(invite_json, doc)) {
    error = "an invite must be a JSON object";
    return std::nullopt;
  }
  auto parsed = parse_invite(doc, error);
  if (!parsed)
    return std::nullopt;
  return invite_view{std::string(parsed->network), parsed->r, parsed->expires, std::string(parsed->nonce),
                     std::string(parsed->by)};
}

std::string invite_string(std::string_view invite_json) { return util::base64url_encode(invite_json); }

std::optional<std::string> invite_from_text(std::string_view text, std::string& error) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  if (const auto at = text.find("#invite="); at != std::string_view::npos)
    text = text.substr(at + 8);
  auto json = util::base64url_decode(text);
  if (!json || json->empty() || json->front() != '{') {
    error = "not an invite (a base64url string, or a link ending in #invite=...)";
    return std::nullopt;
  }
  return json;
}

std::optional<network_file> read_network_file(std::string_view json, std::string& error) {
  network_file out;
  if (!from_json_text(json, out.charter, error)) {
    error = "not a charter entry: " + error;
    return std::nullopt;
  }
  if (auto why = validate_integrity(out.charter)) {
    error = why->reason;
    return std::nullopt;
  }
  if (out.charter.previous_hash != genesis_hash) {
    error = "a charter is a first entry (previous_hash " + std::string(genesis_hash.substr(0, 8)) + "...)";
    return std::nullopt;
  }
  auto admitted = admit(nullptr, out.charter, out.charter.hash);
  if (admitted.why) {
    error = admitted.why->reason;
    return std::nullopt;
  }
  out.founded = std::move(admitted.after);
  return out;
}

}  // namespace gsio::ledger
