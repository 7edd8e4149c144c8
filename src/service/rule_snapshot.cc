#include "jailwarden/service/rule_snapshot.h"

#include <algorithm>

#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {
namespace {

// Position of a subject type in rctl_get_rules output (rctl::RuleSet::List).
int OutputRank(rctl::SubjectType s) {
  switch (s) {
    case rctl::SubjectType::kProcess:
      return 0;
    case rctl::SubjectType::kLoginclass:
      return 1;
    case rctl::SubjectType::kUser:
      return 2;
    case rctl::SubjectType::kJail:
      return 3;
    case rctl::SubjectType::kUndefined:
      return 4;
  }
  return 4;
}

bool GroupLess(const std::shared_ptr<const RuleGroup>& g, std::string_view jail) {
  return g->jail < jail;
}

}  // namespace

RuleSnapshot::RuleSnapshot() : others_(std::make_shared<const RuleGroup>()) {
  auto empty = std::make_shared<const Bucket>();
  buckets_.fill(empty);
}

std::size_t RuleSnapshot::BucketOf(std::string_view jail) {
  // FNV-1a: stable across runs, cheap for jail names.
  uint64_t h = 14695981039346656037ull;
  for (char c : jail) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h % kBuckets);
}

const RuleGroup* RuleSnapshot::FindJail(std::string_view jail) const {
  const Bucket& b = *buckets_[BucketOf(jail)];
  auto it = std::lower_bound(b.groups.begin(), b.groups.end(), jail, GroupLess);
  if (it == b.groups.end() || (*it)->jail != jail) return nullptr;
  return it->get();
}

std::vector<rctl::Rule> RuleGroup::Rules() const {
  std::vector<rctl::Rule> out;
  out.reserve(entries.size());
  for (const RuleEntry& e : entries) out.push_back(e.rule);
  return out;
}

std::vector<rctl::Rule> RuleSnapshot::JailRules(std::string_view jail) const {
  const RuleGroup* g = FindJail(jail);
  return g == nullptr ? std::vector<rctl::Rule>{} : g->Rules();
}

std::vector<const RuleEntry*> RuleSnapshot::List(const rctl::Rule& filter) const {
  std::vector<const RuleEntry*> out;
  auto collect = [&](const RuleGroup& g) {
    for (const RuleEntry& e : g.entries) {
      if (rctl::RuleMatchesFilter(e.rule, filter)) out.push_back(&e);
    }
  };
  if (filter.subject == rctl::SubjectType::kJail && !filter.subject_id.empty()) {
    if (const RuleGroup* g = FindJail(filter.subject_id)) collect(*g);
  } else {
    ForEachGroup(collect);
  }
  std::sort(out.begin(), out.end(), [](const RuleEntry* a, const RuleEntry* b) {
    const int ra = OutputRank(a->rule.subject), rb = OutputRank(b->rule.subject);
    if (ra != rb) return ra < rb;
    return a->seq > b->seq;
  });
  return out;
}

std::string RuleSnapshot::ListText(const rctl::Rule& filter) const {
  std::string out;
  for (const RuleEntry* e : List(filter)) {
    if (!out.empty()) out.push_back(',');
    out.append(rctl::FormatRule(e->rule));
  }
  return out;
}

const FlatRules& RuleSnapshot::Flat() const {
  std::call_once(flat_once_, [this] {
    std::vector<const RuleEntry*> all;
    all.reserve(size_);
    ForEachGroup([&](const RuleGroup& g) {
      for (const RuleEntry& e : g.entries) all.push_back(&e);
    });
    std::sort(all.begin(), all.end(),
              [](const RuleEntry* a, const RuleEntry* b) { return a->seq < b->seq; });
    auto flat = std::make_shared<FlatRules>();
    auto enforcements = std::make_shared<std::vector<platform::Enforcement>>();
    flat->rules.reserve(all.size());
    flat->sampled.reserve(all.size());
    enforcements->reserve(all.size());
    for (const RuleEntry* e : all) {
      flat->rules.push_back(e->rule);
      flat->sampled.push_back(e->sampled ? 1 : 0);
      enforcements->push_back(e->enforcement);
    }
    flat->enforcements = std::move(enforcements);
    flat_ = std::move(flat);
  });
  return *flat_;
}

std::shared_ptr<const RuleSnapshot> RuleSnapshot::With(
    const std::vector<std::shared_ptr<const RuleGroup>>& groups) const {
  auto next = std::make_shared<RuleSnapshot>();
  next->buckets_ = buckets_;
  next->others_ = others_;
  next->generation_ = generation_ + 1;
  std::size_t size = size_;
  for (const std::shared_ptr<const RuleGroup>& g : groups) {
    if (g->jail.empty()) {
      size -= next->others_->entries.size();
      size += g->entries.size();
      next->others_ = g;
      continue;
    }
    const std::size_t bi = BucketOf(g->jail);
    auto bucket = std::make_shared<Bucket>(*next->buckets_[bi]);
    auto it = std::lower_bound(bucket->groups.begin(), bucket->groups.end(), g->jail,
                               GroupLess);
    const bool exists = it != bucket->groups.end() && (*it)->jail == g->jail;
    if (exists) size -= (*it)->entries.size();
    if (g->entries.empty()) {
      if (exists) bucket->groups.erase(it);
    } else if (exists) {
      *it = g;
    } else {
      bucket->groups.insert(it, g);
    }
    size += g->entries.size();
    next->buckets_[bi] = std::move(bucket);
  }
  next->size_ = size;
  return next;
}

}  // namespace jailwarden::service
