#include "jailwarden/service/rule_database.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::service {
namespace {

std::string GroupKey(const rctl::Rule& rule) {
  return rule.subject == rctl::SubjectType::kJail ? rule.subject_id : std::string();
}

std::vector<rctl::Rule> RulesOf(const RuleGroup* g) {
  return g == nullptr ? std::vector<rctl::Rule>{} : g->Rules();
}

bool Contains(const std::vector<rctl::Rule>& rules, const rctl::Rule& rule) {
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

// rctl_rule_add on a plain list: the rules `rule` replaces go, it comes last.
void AddReplacing(std::vector<rctl::Rule>& rules, const rctl::Rule& rule) {
  const rctl::Rule filter = rctl::ReplacementFilter(rule);
  std::erase_if(rules, [&](const rctl::Rule& r) { return rctl::RuleMatchesFilter(r, filter); });
  rules.push_back(rule);
}

// The policy's rules by group (jail name, "" for other subjects), each
// group as rctl_rule_add would leave it.
std::map<std::string, std::vector<rctl::Rule>> GroupPolicy(
    const std::vector<rctl::Rule>& policy_rules) {
  std::map<std::string, std::vector<rctl::Rule>> policy;
  for (const rctl::Rule& r : policy_rules) AddReplacing(policy[GroupKey(r)], r);
  return policy;
}

// A group's runtime record: what is in force beyond its policy rules, and
// which of its policy rules are not in force.
RuntimeRules RecordOf(const std::vector<rctl::Rule>& in_force,
                      const std::vector<rctl::Rule>& policy) {
  RuntimeRules r;
  for (const rctl::Rule& rule : in_force) {
    if (!Contains(policy, rule)) r.added.push_back(rule);
  }
  for (const rctl::Rule& rule : policy) {
    if (!Contains(in_force, rule)) r.removed.push_back(rule);
  }
  return r;
}

void ApplyRecordChanges(std::map<std::string, RuntimeRules>& record,
                        const std::map<std::string, std::optional<RuntimeRules>>& changes) {
  for (auto& [key, rec] : changes) {
    if (rec.has_value()) {
      record[key] = *rec;
    } else {
      record.erase(key);
    }
  }
}

}  // namespace

RuleGroup& RuleDraft::Touch(const std::string& jail) {
  auto it = touched_.find(jail);
  if (it != touched_.end()) return it->second;
  RuleGroup copy;
  if (jail.empty()) {
    copy = base_.others();
  } else if (const RuleGroup* g = base_.FindJail(jail)) {
    copy = *g;
  } else {
    copy.jail = jail;
  }
  return touched_.emplace(jail, std::move(copy)).first->second;
}

absl::Status RuleDraft::Add(rctl::Rule rule) {
  if (!rule.FullySpecified()) {
    return ErrnoStatus(EINVAL, "rule not fully specified");
  }
  JW_RETURN_IF_ERROR(rctl::ValidateForAdd(rule));
  RuleGroup& g = Touch(GroupKey(rule));
  const rctl::Rule filter = rctl::ReplacementFilter(rule);
  std::erase_if(g.entries, [&](const RuleEntry& e) {
    return rctl::RuleMatchesFilter(e.rule, filter);
  });
  RuleEntry entry;
  entry.rule = std::move(rule);
  entry.seq = next_seq_++;
  g.entries.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::StatusOr<int> RuleDraft::Remove(const rctl::Rule& filter) {
  // The groups the filter can reach: one jail's, every jail's, the others'.
  std::set<std::string> keys;
  if (filter.subject == rctl::SubjectType::kJail && !filter.subject_id.empty()) {
    keys.insert(filter.subject_id);
  } else {
    base_.ForEachGroup([&](const RuleGroup& g) { keys.insert(g.jail); });
    for (const auto& [key, g] : touched_) keys.insert(key);
    if (filter.subject == rctl::SubjectType::kJail) {
      keys.erase("");
    } else if (filter.subject != rctl::SubjectType::kUndefined) {
      keys = {""};
    }
  }
  int removed = 0;
  for (const std::string& key : keys) {
    const RuleGroup* view = nullptr;
    if (auto it = touched_.find(key); it != touched_.end()) {
      view = &it->second;
    } else {
      view = key.empty() ? &base_.others() : base_.FindJail(key);
    }
    if (view == nullptr) continue;
    bool any = false;
    for (const RuleEntry& e : view->entries) {
      if (rctl::RuleMatchesFilter(e.rule, filter)) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    removed += static_cast<int>(std::erase_if(Touch(key).entries, [&](const RuleEntry& e) {
      return rctl::RuleMatchesFilter(e.rule, filter);
    }));
  }
  if (removed == 0) return ErrnoStatus(ESRCH, "no rule matched the filter");
  return removed;
}

RuleDatabase::RuleDatabase(
    std::function<platform::Enforcement(const rctl::Rule&)> describe,
    std::function<bool(const rctl::Rule&)> deny_is_sampled)
    : describe_(std::move(describe)),
      deny_is_sampled_(std::move(deny_is_sampled)),
      base_(std::make_shared<const RuleSnapshot>()) {
  current_.Store(base_);
}

RuleEntry RuleDatabase::Entry(rctl::Rule rule, uint64_t seq) const {
  RuleEntry e;
  e.sampled = rule.action == rctl::Action::kDeny && deny_is_sampled_(rule);
  e.enforcement = describe_(rule);
  e.rule = std::move(rule);
  e.seq = seq;
  return e;
}

void RuleDatabase::PublishLocked(std::shared_ptr<const RuleSnapshot> next) {
  base_ = next;
  current_.Store(std::move(next));
}

absl::Status RuleDatabase::Mutate(absl::FunctionRef<absl::Status(RuleDraft&)> edit,
                                  Durability durability) {
  absl::MutexLock l(&mu_);
  uint64_t seq = next_seq_;
  RuleDraft draft(*base_, seq);
  JW_RETURN_IF_ERROR(edit(draft));
  return CommitLocked(draft, seq, durability == Durability::kRecorded ? &policy_ : nullptr,
                      /*all_groups=*/false);
}

absl::Status RuleDatabase::CommitLocked(RuleDraft& draft, uint64_t seq,
                                        const RulesByGroup* policy, bool all_groups) {
  if (draft.touched_.empty() && !all_groups) return absl::OkStatus();

  std::vector<JailRulesChange> changes;
  std::vector<std::shared_ptr<RuleGroup>> groups;
  for (auto& [key, group] : draft.touched_) {
    const RuleGroup* before = key.empty() ? &base_->others() : base_->FindJail(key);
    // New entries: what the backend makes of them, carried over from an
    // equal rule already there (a re-add), described otherwise.
    for (RuleEntry& e : group.entries) {
      if (e.seq < next_seq_) continue;
      const RuleEntry* same = nullptr;
      if (before != nullptr) {
        for (const RuleEntry& b : before->entries) {
          if (b.rule == e.rule) {
            same = &b;
            break;
          }
        }
      }
      if (same != nullptr) {
        e.sampled = same->sampled;
        e.enforcement = same->enforcement;
      } else {
        e = Entry(std::move(e.rule), e.seq);
      }
    }
    std::vector<rctl::Rule> after = RulesOf(&group);
    std::vector<rctl::Rule> old = RulesOf(before);
    if (!key.empty() && after != old) {
      changes.push_back({key, std::move(old), std::move(after)});
    }
    groups.push_back(std::make_shared<RuleGroup>(std::move(group)));
  }

  // The runtime record's groups this change alters, against `policy`:
  // only the touched groups (all of them for a policy change), so a change
  // to one jail costs that jail's rules, not the whole record.
  std::map<std::string, std::optional<RuntimeRules>> record_changes;  // nullopt: erase
  if (policy != nullptr) {
    std::map<std::string, const RuleGroup*> in_force;
    if (all_groups) {
      base_->ForEachGroup([&](const RuleGroup& g) { in_force[g.jail] = &g; });
      for (const auto& [key, rules] : *policy) in_force.emplace(key, nullptr);
      for (const auto& [key, rec] : record_) in_force.emplace(key, nullptr);
    }
    for (const std::shared_ptr<RuleGroup>& g : groups) in_force[g->jail] = g.get();
    static const std::vector<rctl::Rule> kNone;
    for (const auto& [key, group] : in_force) {
      auto p = policy->find(key);
      RuntimeRules rec = RecordOf(RulesOf(group), p == policy->end() ? kNone : p->second);
      auto cur = record_.find(key);
      if (rec.empty()) {
        if (cur != record_.end()) record_changes[key] = std::nullopt;
      } else if (cur == record_.end() || cur->second.added != rec.added ||
                 cur->second.removed != rec.removed) {
        record_changes[key] = std::move(rec);
      }
    }
  }
  const bool write_record = !record_path_.empty() && !record_changes.empty();

  if (applier_ != nullptr && !changes.empty()) {
    JW_ASSIGN_OR_RETURN(AppliedEnforcements applied, applier_->ApplyChanges(changes));
    for (const std::shared_ptr<RuleGroup>& g : groups) {
      auto it = applied.find(g->jail);
      if (it == applied.end() || it->second.size() != g->entries.size()) continue;
      for (std::size_t i = 0; i < g->entries.size(); ++i) {
        g->entries[i].enforcement = std::move(it->second[i]);
      }
    }
  }
  if (write_record) {
    // Before the caller hears of the change: a change that is not on disk
    // would be lost by the next restart, so it is not made at all.
    std::map<std::string, RuntimeRules> next_record = record_;
    ApplyRecordChanges(next_record, record_changes);
    absl::Status written =
        WriteFileAtomically(record_path_, RuntimeRulesToJson(FlatRecordLocked(next_record)));
    if (!written.ok()) {
      if (applier_ != nullptr && !changes.empty()) {
        for (JailRulesChange& c : changes) std::swap(c.before, c.after);
        // Best effort: JailRegistry::ReconcileLimits re-applies the
        // published rules should this fail too.
        (void)applier_->ApplyChanges(changes);
      }
      return written;
    }
  }
  next_seq_ = seq;
  ApplyRecordChanges(record_, record_changes);
  std::vector<std::shared_ptr<const RuleGroup>> published(groups.begin(), groups.end());
  if (!published.empty()) PublishLocked(base_->With(published));
  return absl::OkStatus();
}

RuntimeRules RuleDatabase::FlatRecordLocked(
    const std::map<std::string, RuntimeRules>& record) const {
  RuntimeRules flat;
  for (const auto& [key, rec] : record) {
    flat.added.insert(flat.added.end(), rec.added.begin(), rec.added.end());
    flat.removed.insert(flat.removed.end(), rec.removed.begin(), rec.removed.end());
  }
  return flat;
}

RuntimeRules RuleDatabase::runtime_rules() const {
  absl::MutexLock l(&mu_);
  return FlatRecordLocked(record_);
}

absl::Status RuleDatabase::OpenRecord(std::string path) {
  JW_ASSIGN_OR_RETURN(RuntimeRules loaded, LoadRuntimeRules(path));
  absl::MutexLock l(&mu_);
  record_.clear();
  for (rctl::Rule& r : loaded.added) record_[GroupKey(r)].added.push_back(std::move(r));
  for (rctl::Rule& r : loaded.removed) record_[GroupKey(r)].removed.push_back(std::move(r));
  record_path_ = std::move(path);
  return absl::OkStatus();
}

RuleDatabase::RulesByGroup RuleDatabase::TargetLocked(
    const RulesByGroup& policy, PolicyMode mode,
    const std::set<std::string>& forget_jails) const {
  RulesByGroup target = policy;
  if (mode == PolicyMode::kStartUp) {
    for (const auto& [key, rec] : record_) {
      auto it = target.find(key);
      if (it == target.end()) continue;
      std::erase_if(it->second, [&](const rctl::Rule& r) { return Contains(rec.removed, r); });
    }
  }
  for (const auto& [key, rec] : record_) {
    if (forget_jails.count(key) != 0) continue;
    for (const rctl::Rule& r : rec.added) AddReplacing(target[key], r);
  }
  return target;
}

absl::Status RuleDatabase::ReconcileLocked(RuleDraft& draft, const RulesByGroup& target,
                                           bool all, RulePlan* plan) const {
  std::set<std::string> keys;
  for (const auto& [key, rules] : target) keys.insert(key);
  if (all) base_->ForEachGroup([&](const RuleGroup& g) { keys.insert(g.jail); });
  static const std::vector<rctl::Rule> kNone;
  for (const std::string& key : keys) {
    const std::vector<rctl::Rule> current =
        RulesOf(key.empty() ? &base_->others() : base_->FindJail(key));
    auto t = target.find(key);
    const std::vector<rctl::Rule>& want = t == target.end() ? kNone : t->second;
    for (const rctl::Rule& r : current) {
      if (Contains(want, r)) continue;
      if (plan != nullptr) {
        plan->to_remove.push_back(r);
      } else {
        // A fully specified rule as a filter matches only itself.
        absl::StatusOr<int> removed = draft.Remove(r);
        if (!removed.ok() && removed.status().code() != absl::StatusCode::kNotFound) {
          return removed.status();
        }
      }
    }
    for (const rctl::Rule& r : want) {
      if (Contains(current, r)) continue;
      if (plan != nullptr) {
        plan->to_add.push_back(r);
      } else {
        JW_RETURN_IF_ERROR(draft.Add(r));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RuleDatabase::ApplyPolicy(const std::vector<rctl::Rule>& policy_rules,
                                       PolicyMode mode,
                                       const std::set<std::string>& forget_jails) {
  RulesByGroup policy = GroupPolicy(policy_rules);
  absl::MutexLock l(&mu_);
  const RulesByGroup target = TargetLocked(policy, mode, forget_jails);
  uint64_t seq = next_seq_;
  RuleDraft draft(*base_, seq);
  JW_RETURN_IF_ERROR(ReconcileLocked(draft, target, /*all=*/true, nullptr));
  JW_RETURN_IF_ERROR(CommitLocked(draft, seq, &policy, /*all_groups=*/true));
  policy_ = std::move(policy);
  return absl::OkStatus();
}

RulePlan RuleDatabase::PlanPolicy(const std::vector<rctl::Rule>& policy_rules,
                                  PolicyMode mode,
                                  const std::set<std::string>& forget_jails) const {
  RulesByGroup policy = GroupPolicy(policy_rules);
  absl::MutexLock l(&mu_);
  RulePlan plan;
  uint64_t seq = next_seq_;
  RuleDraft unused(*base_, seq);
  (void)ReconcileLocked(unused, TargetLocked(policy, mode, forget_jails), /*all=*/true, &plan);
  return plan;
}

absl::Status RuleDatabase::ForgetRuntimeRules(const std::string& jail) {
  absl::MutexLock l(&mu_);
  RulesByGroup target;
  auto p = policy_.find(jail);
  target[jail] = p == policy_.end() ? std::vector<rctl::Rule>{} : p->second;
  uint64_t seq = next_seq_;
  RuleDraft draft(*base_, seq);
  JW_RETURN_IF_ERROR(ReconcileLocked(draft, target, /*all=*/false, nullptr));
  return CommitLocked(draft, seq, &policy_, /*all_groups=*/false);
}

absl::Status RuleDatabase::AttachJail(
    const std::string& jail,
    absl::FunctionRef<absl::StatusOr<std::vector<platform::Enforcement>>(
        const std::vector<rctl::Rule>&)>
        apply) {
  absl::MutexLock l(&mu_);
  const RuleGroup* g = base_->FindJail(jail);
  JW_ASSIGN_OR_RETURN(std::vector<platform::Enforcement> applied, apply(RulesOf(g)));
  if (g == nullptr || applied.size() != g->entries.size()) return absl::OkStatus();
  bool differs = false;
  for (std::size_t i = 0; i < applied.size(); ++i) {
    differs = differs || applied[i] != g->entries[i].enforcement;
  }
  if (!differs) return absl::OkStatus();
  auto next = std::make_shared<RuleGroup>(*g);
  for (std::size_t i = 0; i < applied.size(); ++i) {
    next->entries[i].enforcement = std::move(applied[i]);
  }
  PublishLocked(base_->With({next}));
  return absl::OkStatus();
}

void RuleDatabase::DetachJail(const std::string& jail) {
  absl::MutexLock l(&mu_);
  const RuleGroup* g = base_->FindJail(jail);
  if (g == nullptr) return;
  auto next = std::make_shared<RuleGroup>(*g);
  bool differs = false;
  for (RuleEntry& e : next->entries) {
    platform::Enforcement described = describe_(e.rule);
    if (described != e.enforcement) {
      e.enforcement = std::move(described);
      differs = true;
    }
  }
  if (differs) PublishLocked(base_->With({next}));
}

}  // namespace jailwarden::service
