#pragma once

// service::RuleSnapshot: one immutable, published state of the daemon's rule
// database (RuleDatabase). Every reader — the tick thread (engine compile,
// sampler throttle minimums, sampled-deny routing), /metrics, the API — takes
// a shared_ptr to one snapshot and sees one consistent rule set with, per
// rule, whether its deny is enforced by sampling and what the backend makes
// of it (platform::Enforcement).
//
// Layout: rules are grouped by subject — one RuleGroup per jail that has
// jail-subject rules, one for every other subject (process, user,
// loginclass). Jail groups sit in a fixed number of buckets by hash of the
// name, so a change to one jail's rules makes a new snapshot by copying one
// bucket's pointers and the bucket table: the cost of a change follows the
// changed jail's rules, not the number of jails (bench/
// rule_database_bench.cc).
//
// Thread-safety: immutable after construction; every method may be called
// from any thread. Flat() builds its view once, on first use.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::service {

// One rule with what the backend makes of it.
struct RuleEntry {
  rctl::Rule rule;
  // Order of addition across the whole database (larger = newer): gives
  // rctl_get_rules' newest-first order and the engine's oldest-first order.
  uint64_t seq = 0;
  // A deny rule the backend enforces only by sampling (the engine reports
  // its at-or-over decisions and the tick router hands them to the
  // enforcer). Computed once, when the rule enters the database.
  bool sampled = false;
  // What Apply reported while the jail runs, what Describe says otherwise.
  platform::Enforcement enforcement;
};

// The rules of one jail (`jail` = its name), or of every other subject
// (`jail` = ""). Entries oldest first.
struct RuleGroup {
  std::string jail;
  std::vector<RuleEntry> entries;
  // The entries' rules, oldest first.
  std::vector<rctl::Rule> Rules() const;
};

// Every rule in one flat list, oldest first (the order rctl::RuleSet keeps),
// with parallel arrays for the engine and the sampler.
struct FlatRules {
  std::vector<rctl::Rule> rules;
  std::vector<uint8_t> sampled;  // RuleEntry::sampled, per rule
  std::shared_ptr<const std::vector<platform::Enforcement>> enforcements;
};

class RuleSnapshot {
 public:
  static constexpr std::size_t kBuckets = 64;

  // An empty database, generation 0.
  RuleSnapshot();

  // Increases by one with every published change.
  uint64_t generation() const { return generation_; }
  std::size_t size() const { return size_; }

  // The jail's group, or nullptr when it has no jail-subject rules.
  const RuleGroup* FindJail(std::string_view jail) const;
  // The group of process, user and loginclass rules (possibly empty).
  const RuleGroup& others() const { return *others_; }
  // The jail's rules, oldest first (empty when none).
  std::vector<rctl::Rule> JailRules(std::string_view jail) const;

  // The entries matching `filter` in rctl_get_rules order: process rules,
  // then loginclass, user, jail; newest first within each subject type.
  std::vector<const RuleEntry*> List(const rctl::Rule& filter) const;
  // List() as rctl_get_rules(2) returns it: kernel form, comma separated.
  std::string ListText(const rctl::Rule& filter) const;

  // Every group, in no particular order.
  template <typename Fn>
  void ForEachGroup(Fn&& fn) const {
    if (!others_->entries.empty()) fn(*others_);
    for (const std::shared_ptr<const Bucket>& b : buckets_) {
      for (const std::shared_ptr<const RuleGroup>& g : b->groups) fn(*g);
    }
  }

  // The whole database flat, built on first use and kept.
  const FlatRules& Flat() const;

  // A new snapshot with `groups` replacing (or adding) the groups of the
  // same jail; an empty group removes the jail's group. Generation + 1.
  std::shared_ptr<const RuleSnapshot> With(
      const std::vector<std::shared_ptr<const RuleGroup>>& groups) const;

 private:
  struct Bucket {
    std::vector<std::shared_ptr<const RuleGroup>> groups;  // sorted by jail
  };
  static std::size_t BucketOf(std::string_view jail);

  std::array<std::shared_ptr<const Bucket>, kBuckets> buckets_;
  std::shared_ptr<const RuleGroup> others_;
  uint64_t generation_ = 0;
  std::size_t size_ = 0;
  mutable std::once_flag flat_once_;
  mutable std::shared_ptr<const FlatRules> flat_;
};

}  // namespace jailwarden::service
