#include "ledger/chain_tree.hpp"

#include "crypto/sha256.hpp"
#include "util/hex.hpp"

#include <algorithm>
#include <deque>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

namespace gsio::ledger {

// The tree is stored as segments: maximal runs of entries in which every entry but the last has
// exactly one child. Fork choice needs subtree sizes only at forks, and the size of a segment's
// subtree is its length plus `below` (the sizes of its child segments). Appending to a segment
// tail therefore updates one counter per fork above it instead of one per ancestor entry.
namespace {

struct segment;

struct node {
  entry value;
  std::size_t seq = 0;     // position in attach order
  segment* seg = nullptr;
  std::size_t pos = 0;     // index within seg->nodes, plus seg->first
  std::size_t depth = 0;   // distance from the genesis link: its index if canonical
  std::size_t children = 0;
  membership_ptr members;  // state after this entry (private networks); shared until it changes
};

struct segment {
  std::deque<node*> nodes;
  // The `pos` of nodes.front(): a split that moves the head of a segment away leaves the
  // positions of the rest as they are.
  std::size_t first = 0;
  segment* parent = nullptr;           // the segment whose tail is our head's parent
  std::vector<segment*> child_segments;  // children of nodes.back()
  std::size_t below = 0;               // entries in the child segments' subtrees

  std::size_t subtree_size() const { return nodes.size() + below; }
  const std::string& head_hash() const { return nodes.front()->value.hash; }
};

bool heavier(const segment* a, const segment* b) {
  if (a->subtree_size() != b->subtree_size())
    return a->subtree_size() > b->subtree_size();
  return a->head_hash() < b->head_hash();
}

}  // namespace

struct chain_tree::impl {
  std::unordered_map<std::string_view, std::unique_ptr<node>> nodes;  // by hash
  std::unordered_map<std::string_view, std::vector<node*>> by_id;
  std::deque<segment> segments;  // deque: stable addresses
  segment root;                  // sentinel: no entries, children are the first entries
  std::vector<node*> canonical;
  // Canonical indexes whose entry's membership state differs from its parent's (private networks):
  // the charter, then each admission, removal and redemption. Kept with the chain, so that the
  // membership's history is read without a walk over every entry.
  std::vector<std::size_t> member_changes;
  std::vector<node*> attach_order;
  crypto::digest set_digest{};
  std::size_t forks = 0;
  std::unordered_map<std::string, std::int64_t> last_us_by_creator;
  std::string network_id;  // empty: open network
  // Author blocks by "<key>-<time>": only entries that carry one.
  std::unordered_map<std::string, std::vector<node*>> by_author;

  // Held entries, keyed by the parent hash they wait for, oldest first: a deque, so that dropping
  // the oldest of 100k entries waiting for one made-up parent does not move the other 99,999.
  std::unordered_map<std::string, std::deque<entry>> held;
  std::unordered_set<std::string> held_hashes;
  // (parent, hash) in the order entries were held; released ones are skipped lazily.
  std::deque<std::pair<std::string, std::string>> held_order;
  held_limits limits;
  std::size_t held_size = 0;  // bytes, as held_cost counts them
  std::uint64_t dropped = 0;

  // What a parent with held entries costs besides them: its key and an empty deque (libstdc++
  // allocates a map and a 512-byte block up front), so that entries held under many made-up
  // parents cannot pass max_bytes by far.
  static constexpr std::size_t held_parent_cost = 640;

  static std::size_t held_cost(const entry& e) {
    std::size_t bytes = sizeof(entry) + e.id.size() + e.timestamp.size() + e.data.size() +
                        e.previous_hash.size() + e.hash.size() + e.creator_node_id.size();
    for (const auto& [signer, signature] : e.signatures)
      bytes += signer.size() + signature.size() + sizeof(std::pair<std::string, std::string>);
    return bytes;
  }

  void hold(entry e) {
    held_size += held_cost(e);
    held_hashes.insert(e.hash);
    held_order.emplace_back(e.previous_hash, e.hash);
    auto [waiting, first_for_parent] = held.try_emplace(e.previous_hash);
    if (first_for_parent)
      held_size += held_parent_cost;
    waiting->second.push_back(std::move(e));
    while (!held_hashes.empty() &&
           (held_hashes.size() > limits.max_entries || held_size > limits.max_bytes))
      drop_oldest_held();
    // Released entries leave stale records behind; keep the queue proportional to what is held.
    if (held_order.size() > 2 * held_hashes.size() + 1024) {
      std::erase_if(held_order, [this](const auto& record) {
        return !held_hashes.count(record.second);
      });
    }
  }

  // Takes the entries waiting for `parent` out of the held set.
  std::vector<entry> release(const std::string& parent) {
    auto waiting = held.find(parent);
    if (waiting == held.end())
      return {};
    std::vector<entry> children(std::make_move_iterator(waiting->second.begin()),
                                std::make_move_iterator(waiting->second.end()));
    held.erase(waiting);
    held_size -= held_parent_cost;
    for (const entry& child : children) {
      held_hashes.erase(child.hash);
      held_size -= held_cost(child);
    }
    return children;
  }

  // Drops what waits for `parent`, and what waits for those, and so on.
  void drop_held_below(const std::string& parent) {
    std::vector<std::string> parents{parent};
    while (!parents.empty()) {
      auto children = release(parents.back());
      parents.pop_back();
      dropped += children.size();
      for (auto& child : children)
        parents.push_back(std::move(child.hash));
    }
  }

  void drop_oldest_held() {
    while (!held_order.empty()) {
      const auto [parent, hash] = std::move(held_order.front());
      held_order.pop_front();
      if (!held_hashes.count(hash))
        continue;  // released meanwhile
      auto& siblings = held.at(parent);
      auto it = std::find_if(siblings.begin(), siblings.end(),
                             [&hash = hash](const entry& e) { return e.hash == hash; });
      held_size -= held_cost(*it);
      siblings.erase(it);
      if (siblings.empty()) {
        held.erase(parent);
        held_size -= held_parent_cost;
      }
      held_hashes.erase(hash);
      ++dropped;
      return;
    }
  }

  static inline const membership_ptr no_members;

  static void add_below(segment* s, std::size_t n) {
    for (; s; s = s->parent)
      s->below += n;
  }

  segment* new_segment(segment* parent) {
    segment& s = segments.emplace_back();
    s.parent = parent;
    parent->child_segments.push_back(&s);
    return &s;
  }

  static void place(node* n, segment* s) {
    n->seg = s;
    n->pos = s->first + s->nodes.size();
    s->nodes.push_back(n);
  }

  // Is `ancestor` on the path from the genesis link to `descendant` (inclusive)?
  static bool on_path(const node* ancestor, const node* descendant) {
    for (const segment* s = descendant->seg; s; s = s->parent)
      if (s == ancestor->seg)
        return s != descendant->seg || ancestor->pos <= descendant->pos;
    return false;
  }

  // Splits `s` after nodes[index], so that that node becomes a segment tail. The shorter side
  // moves to a new segment: each move at least halves the segment an entry is in, so an entry
  // moves O(log n) times in all. (Always moving the tail cost the chain's length for every entry
  // a peer forked near its start: a CPU denial of service, and paid again at every restart.)
  void split_after(segment* s, std::size_t index) {
    const std::size_t head_length = index + 1;
    if (2 * head_length <= s->nodes.size())
      move_head(s, head_length);
    else
      move_tail(s, head_length);
  }

  // nodes[head_length..] go to a new child of `s`, which hands its children down to it.
  void move_tail(segment* s, std::size_t head_length) {
    segment& rest = segments.emplace_back();
    rest.parent = s;
    for (std::size_t i = head_length; i < s->nodes.size(); ++i)
      place(s->nodes[i], &rest);
    rest.child_segments = std::move(s->child_segments);
    for (segment* child : rest.child_segments)
      child->parent = &rest;
    rest.below = s->below;
    s->nodes.resize(head_length);
    s->child_segments.assign(1, &rest);
    s->below = rest.subtree_size();
  }

  // nodes[..head_length) go to a new segment between `s` and its parent; their positions stay.
  void move_head(segment* s, std::size_t head_length) {
    segment& head = segments.emplace_back();
    head.parent = s->parent;
    std::replace(head.parent->child_segments.begin(), head.parent->child_segments.end(), s, &head);
    head.first = s->first;
    head.nodes.assign(s->nodes.begin(), s->nodes.begin() + static_cast<std::ptrdiff_t>(head_length));
    for (node* n : head.nodes)
      n->seg = &head;
    s->nodes.erase(s->nodes.begin(), s->nodes.begin() + static_cast<std::ptrdiff_t>(head_length));
    s->first += head_length;
    s->parent = &head;
    head.child_segments.assign(1, s);
    head.below = s->subtree_size();
  }

  std::optional<rejection> attach(entry&& value, chain_tree::checked_admission* checked = nullptr) {
    node* parent = nullptr;
    if (value.previous_hash != genesis_hash)
      parent = nodes.at(value.previous_hash).get();
    if (auto same_id = by_id.find(value.id); same_id != by_id.end() && parent)
      for (const node* other : same_id->second)
        if (on_path(other, parent))
          return rejection{reject_code::duplicate_id,
                           "entry " + value.id + ": the same id is already on its chain"};
    admission admitted;
    if (!network_id.empty()) {
      const membership_ptr& at_parent = parent ? parent->members : nullptr;
      if (checked && !checked->result.why && checked->at_parent == at_parent)
        admitted = std::move(checked->result);
      else
        admitted = admit(at_parent, value, network_id);
      if (admitted.why)
        return std::move(admitted.why);
      if (admitted.author && parent && author_on_path(*admitted.author, parent))
        return rejection{reject_code::bad_author,
                         "entry " + value.id + ": this author block is already on its chain (a replay)"};
    }

    auto owned = std::make_unique<node>();
    node* n = owned.get();
    n->value = std::move(value);
    nodes.emplace(n->value.hash, std::move(owned));
    by_id[n->value.id].push_back(n);
    n->members = std::move(admitted.after);
    if (admitted.author)
      by_author[author_key(*admitted.author)].push_back(n);
    n->seq = attach_order.size();
    attach_order.push_back(n);
    crypto::digest bytes{};
    if (util::from_hex(n->value.hash, bytes.data(), bytes.size()))
      for (std::size_t i = 0; i < bytes.size(); ++i)
        set_digest[i] ^= bytes[i];
    auto& last = last_us_by_creator[n->value.creator_node_id];
    last = std::max(last, n->value.unix_us());

    if (!parent) {
      place(n, new_segment(&root));
      add_below(&root, 1);
      return std::nullopt;
    }
    n->depth = parent->depth + 1;
    segment* s = parent->seg;
    const bool parent_is_tail = parent->pos - s->first + 1 == s->nodes.size();
    if (parent_is_tail && parent->children == 0) {
      place(n, s);
      add_below(s->parent, 1);
    } else {
      if (!parent_is_tail) {
        split_after(s, parent->pos - s->first);
        s = parent->seg;  // the segment that ends at the parent now
      }
      place(n, new_segment(s));
      add_below(s, 1);
    }
    if (++parent->children == 2)
      ++forks;
    return std::nullopt;
  }

  static std::string author_key(const author_ref& author) {
    return author.key + "-" + std::to_string(author.time_us);
  }

  bool author_on_path(const author_ref& author, const node* parent) const {
    auto same = by_author.find(author_key(author));
    if (same == by_author.end())
      return false;
    return std::any_of(same->second.begin(), same->second.end(),
                       [parent](const node* other) { return on_path(other, parent); });
  }

  // Re-walks the fork choice from the genesis link and reports how the canonical chain changed.
  void recompute_canonical(insert_result& result) {
    std::size_t index = 0;
    const segment* s = &root;
    std::size_t diverged = std::string::npos;
    std::vector<const segment*> path;
    while (!s->child_segments.empty()) {
      const segment* best = s->child_segments.front();
      for (const segment* candidate : s->child_segments)
        if (heavier(candidate, best))
          best = candidate;
      path.push_back(best);
      // Within a segment there is no choice, so comparing segment heads finds the first
      // difference. A head beyond the old chain means the old chain is a prefix of the new one.
      if (diverged == std::string::npos &&
          (index >= canonical.size() || canonical[index] != best->nodes.front()))
        diverged = std::min(index, canonical.size());
      index += best->nodes.size();
      s = best;
    }
    if (diverged == std::string::npos) {
      if (index == canonical.size())
        return;
      diverged = canonical.size();  // the same branch grew
    }
    for (std::size_t i = diverged; i < canonical.size(); ++i)
      result.removed.push_back(&canonical[i]->value);
    canonical.resize(diverged);
    member_changes.erase(std::lower_bound(member_changes.begin(), member_changes.end(), diverged),
                         member_changes.end());
    // Whole segments before the divergence are skipped, so extending the chain costs the length
    // of the path in segments, not in entries.
    std::size_t start = 0;
    for (const segment* seg : path) {
      const std::size_t length = seg->nodes.size();
      for (std::size_t i = diverged > start ? std::min(diverged - start, length) : 0; i < length; ++i) {
        const node* n = seg->nodes[i];
        const membership_ptr& before = canonical.empty() ? no_members : canonical.back()->members;
        if (n->members != before)
          member_changes.push_back(canonical.size());
        canonical.push_back(seg->nodes[i]);
        result.added.push_back(&n->value);
      }
      start += length;
    }
  }
};

chain_tree::chain_tree() : impl_(std::make_unique<impl>()) {}
chain_tree::chain_tree(held_limits limits) : impl_(std::make_unique<impl>()) {
  impl_->limits = limits;
}
chain_tree::chain_tree(held_limits limits, std::string network_id) : chain_tree(limits) {
  impl_->network_id = std::move(network_id);
}
chain_tree::~chain_tree() = default;
chain_tree::chain_tree(chain_tree&&) noexcept = default;
chain_tree& chain_tree::operator=(chain_tree&&) noexcept = default;

chain_tree::insert_result chain_tree::insert(entry e) { return insert_checked(std::move(e), nullptr); }

chain_tree::insert_result chain_tree::insert(entry e, checked_admission checked) {
  return insert_checked(std::move(e), &checked);
}

chain_tree::insert_result chain_tree::insert_checked(entry e, checked_admission* checked) {
  insert_result result;
  auto& self = *impl_;
  if (self.nodes.count(e.hash) || self.held_hashes.count(e.hash)) {
    result.outcome = status::duplicate;
    return result;
  }
  if (e.previous_hash != genesis_hash && !self.nodes.count(e.previous_hash)) {
    self.hold(std::move(e));
    result.outcome = status::held;
    return result;
  }
  std::string hash = e.hash;
  if (auto failure = self.attach(std::move(e), checked)) {
    self.drop_held_below(hash);  // they would wait for it forever
    result.outcome = status::rejected;
    result.why = std::move(failure);
    return result;
  }
  result.outcome = status::appended;
  // Release entries that were waiting for this one, parents before children.
  std::deque<std::string> released{std::move(hash)};
  while (!released.empty()) {
    const node* n = self.nodes.at(released.front()).get();
    released.pop_front();
    result.attached.push_back(&n->value);
    for (entry& child : self.release(n->value.hash)) {
      std::string child_hash = child.hash;
      if (!self.attach(std::move(child)))
        released.push_back(std::move(child_hash));
      else
        self.drop_held_below(child_hash);  // refused (an id already on its path): so are they
    }
  }
  self.recompute_canonical(result);
  return result;
}

std::size_t chain_tree::height() const { return impl_->canonical.size(); }

const entry* chain_tree::tip() const {
  return impl_->canonical.empty() ? nullptr : &impl_->canonical.back()->value;
}

std::string_view chain_tree::tip_hash() const {
  return impl_->canonical.empty() ? genesis_hash : std::string_view(impl_->canonical.back()->value.hash);
}

const entry* chain_tree::at(std::size_t index) const {
  return index < impl_->canonical.size() ? &impl_->canonical[index]->value : nullptr;
}

std::optional<std::size_t> chain_tree::canonical_index(std::string_view hash) const {
  auto it = impl_->nodes.find(hash);
  if (it == impl_->nodes.end())
    return std::nullopt;
  const node* n = it->second.get();
  if (n->depth < impl_->canonical.size() && impl_->canonical[n->depth] == n)
    return n->depth;
  return std::nullopt;
}

const entry* chain_tree::find_canonical_by_id(std::string_view id) const {
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end())
    return nullptr;
  for (const node* n : it->second)
    if (n->depth < impl_->canonical.size() && impl_->canonical[n->depth] == n)
      return &n->value;
  return nullptr;
}

const entry* chain_tree::find(std::string_view hash) const {
  auto it = impl_->nodes.find(hash);
  return it == impl_->nodes.end() ? nullptr : &it->second->value;
}

std::size_t chain_tree::size() const { return impl_->nodes.size(); }

std::size_t chain_tree::fork_count() const { return impl_->forks; }

std::vector<const entry*> chain_tree::tips() const {
  std::vector<const entry*> out;
  for (const segment& s : impl_->segments)
    if (!s.nodes.empty() && s.nodes.back()->children == 0)
      out.push_back(&s.nodes.back()->value);
  return out;
}

std::vector<chain_tree::side_branch> chain_tree::side_branches() const {
  const auto is_canonical = [this](const node* n) {
    return n->depth < impl_->canonical.size() && impl_->canonical[n->depth] == n;
  };
  std::vector<side_branch> out;
  for (const segment& s : impl_->segments) {
    if (s.nodes.empty() || s.nodes.back()->children != 0 || is_canonical(s.nodes.back()))
      continue;
    side_branch branch{&s.nodes.back()->value, 0, 0};
    // Walk up segment by segment: every entry below the first canonical one is off the chain.
    for (const segment* seg = &s; seg && seg != &impl_->root; seg = seg->parent) {
      const auto first_canonical = std::find_if(seg->nodes.rbegin(), seg->nodes.rend(), is_canonical);
      branch.length += static_cast<std::size_t>(first_canonical - seg->nodes.rbegin());
      if (first_canonical != seg->nodes.rend()) {
        branch.fork_height = (*first_canonical)->depth + 1;
        break;
      }
    }
    out.push_back(branch);
  }
  std::sort(out.begin(), out.end(), [](const side_branch& a, const side_branch& b) {
    return a.length != b.length ? a.length > b.length : a.tip->hash < b.tip->hash;
  });
  return out;
}

std::vector<const entry*> chain_tree::off_chain_entries() const {
  std::vector<const entry*> out;
  for (const node* n : impl_->attach_order)
    if (n->depth >= impl_->canonical.size() || impl_->canonical[n->depth] != n)
      out.push_back(&n->value);
  return out;
}

std::optional<std::size_t> chain_tree::attach_seq(std::string_view hash) const {
  auto it = impl_->nodes.find(hash);
  if (it == impl_->nodes.end())
    return std::nullopt;
  return it->second->seq;
}

const entry* chain_tree::attached_at(std::size_t seq) const {
  return seq < impl_->attach_order.size() ? &impl_->attach_order[seq]->value : nullptr;
}

std::vector<std::string> chain_tree::locator() const {
  std::vector<std::string> out;
  const auto& chain = impl_->canonical;
  if (chain.empty())
    return out;
  std::size_t step = 1;
  for (std::size_t index = chain.size() - 1;; ) {
    out.push_back(chain[index]->value.hash);
    if (index == 0)
      break;
    if (out.size() >= 2)
      step *= 2;
    index = index > step ? index - step : 0;
  }
  return out;
}

const entry* chain_tree::common_ancestor(const std::vector<std::string>& locator) const {
  for (const auto& hash : locator)
    if (auto index = canonical_index(hash))
      return at(*index);
  return nullptr;
}

std::string chain_tree::digest() const { return util::to_hex(impl_->set_digest); }

std::size_t chain_tree::held_count() const { return impl_->held_hashes.size(); }
std::size_t chain_tree::held_bytes() const { return impl_->held_size; }
std::uint64_t chain_tree::held_dropped() const { return impl_->dropped; }

std::vector<std::string> chain_tree::missing_parents() const {
  std::vector<std::string> out;
  for (const auto& [parent, waiting] : impl_->held)
    if (!impl_->held_hashes.count(parent))
      out.push_back(parent);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<const entry*> chain_tree::held_entries() const {
  std::vector<std::string_view> parents;
  for (const auto& [parent, waiting] : impl_->held)
    parents.push_back(parent);
  std::sort(parents.begin(), parents.end());
  std::vector<const entry*> out;
  for (auto parent : parents)
    for (const entry& e : impl_->held.find(std::string{parent})->second)
      out.push_back(&e);
  return out;
}

std::vector<const entry*> chain_tree::orphaned_entries_of(std::string_view node_id) const {
  std::vector<const entry*> out;
  std::unordered_set<std::string_view> seen_ids;
  for (const auto& [hash, n] : impl_->nodes) {
    const entry& e = n->value;
    if (e.creator_node_id != node_id || canonical_index(e.hash) || find_canonical_by_id(e.id))
      continue;
    if (seen_ids.insert(e.id).second)
      out.push_back(&e);
  }
  std::sort(out.begin(), out.end(), [](const entry* a, const entry* b) {
    return a->unix_us() != b->unix_us() ? a->unix_us() < b->unix_us() : a->id < b->id;
  });
  return out;
}

std::int64_t chain_tree::last_unix_us_of(std::string_view node_id) const {
  auto it = impl_->last_us_by_creator.find(std::string(node_id));
  return it == impl_->last_us_by_creator.end() ? -1 : it->second;
}

const std::string& chain_tree::network_id() const { return impl_->network_id; }

membership_ptr chain_tree::members_after(std::string_view hash) const {
  auto it = impl_->nodes.find(hash);
  return it == impl_->nodes.end() ? nullptr : it->second->members;
}

const std::vector<std::size_t>& chain_tree::membership_changes() const { return impl_->member_changes; }

membership_ptr chain_tree::members_at_tip() const {
  return impl_->canonical.empty() ? nullptr : impl_->canonical.back()->members;
}

bool chain_tree::author_block_on_path(const author_ref& author, std::string_view parent_hash) const {
  auto it = impl_->nodes.find(parent_hash);
  return it != impl_->nodes.end() && impl_->author_on_path(author, it->second.get());
}

}  // namespace gsio::ledger
