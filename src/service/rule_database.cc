#include "jailwarden/service/rule_database.h"

#include <cerrno>
#include <set>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::service {
namespace {

std::string GroupKey(const rctl::Rule& rule) {
  return rule.subject == rctl::SubjectType::kJail ? rule.subject_id : std::string();
}

bool SameEnforcement(const platform::Enforcement& a, const platform::Enforcement& b) {
  return a.rule == b.rule && a.fidelity == b.fidelity && a.mechanism == b.mechanism &&
         a.detail == b.detail;
}

std::vector<rctl::Rule> RulesOf(const RuleGroup* g) {
  std::vector<rctl::Rule> out;
  if (g == nullptr) return out;
  out.reserve(g->entries.size());
  for (const RuleEntry& e : g->entries) out.push_back(e.rule);
  return out;
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

absl::Status RuleDatabase::Mutate(absl::FunctionRef<absl::Status(RuleDraft&)> edit) {
  absl::MutexLock l(&mu_);
  uint64_t seq = next_seq_;
  RuleDraft draft(*base_, seq);
  JW_RETURN_IF_ERROR(edit(draft));
  if (draft.touched_.empty()) return absl::OkStatus();

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
  next_seq_ = seq;
  std::vector<std::shared_ptr<const RuleGroup>> published(groups.begin(), groups.end());
  PublishLocked(base_->With(published));
  return absl::OkStatus();
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
    differs = differs || !SameEnforcement(applied[i], g->entries[i].enforcement);
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
    if (!SameEnforcement(described, e.enforcement)) {
      e.enforcement = std::move(described);
      differs = true;
    }
  }
  if (differs) PublishLocked(base_->With({next}));
}

}  // namespace jailwarden::service
