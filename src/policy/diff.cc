#include "jailwarden/policy/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::policy {
namespace {

// FormatRule names a fully specified rule uniquely (per is printed when
// it differs from the subject, and defaults to it otherwise).
std::set<std::string> RuleTexts(const std::vector<rctl::Rule>& rules) {
  std::set<std::string> out;
  for (const rctl::Rule& r : rules) {
    out.insert(rctl::FormatRule(r));
  }
  return out;
}

// A deny with the amount left out: two denies with the same key replace
// each other in rctl_rule_add (freebsd-rctl.md §6.6).
std::string DenyKey(const rctl::Rule& r) {
  rctl::Rule key = r;
  key.amount = rctl::kAmountUndefined;
  return rctl::FormatRule(key);
}

void DiffServer(const ServerConfig& a, const ServerConfig& b,
                std::vector<std::string>* out) {
  auto check = [out](bool differs, std::string_view name) {
    if (differs) {
      out->emplace_back(name);
    }
  };
  check(a.listen != b.listen, "listen");
  check(a.api_socket != b.api_socket, "api_socket");
  check(a.state_dir != b.state_dir, "state_dir");
  check(a.backend != b.backend, "backend");
  check(a.sample_interval != b.sample_interval, "sample_interval");
  check(a.slow_interval != b.slow_interval, "slow_interval");
  check(a.history != b.history, "history");
  check(a.log_rate_limit != b.log_rate_limit, "log_rate_limit");
  check(a.devctl_rate_limit != b.devctl_rate_limit, "devctl_rate_limit");
  check(a.throttle != b.throttle, "throttle");
  check(a.token_file != b.token_file, "token_file");
  check(a.metrics_path != b.metrics_path, "metrics_path");
  check(a.stop_removed_jails != b.stop_removed_jails, "stop_removed_jails");
}

}  // namespace

bool PolicyDiff::empty() const {
  return jails_to_add.empty() && jails_to_remove.empty() &&
         jails_to_restart.empty() && jails_with_only_limits_changed.empty() &&
         healthchecks_changed.empty() && !rules_changed && server_changes.empty();
}

PolicyDiff Diff(const Policy& old, const Policy& next) {
  PolicyDiff diff;
  // Indexes by name: policies may hold thousands of jails.
  std::map<std::string_view, const JailPolicy*> before, after;
  for (const JailPolicy& j : old.jails) {
    before.emplace(j.name, &j);
  }
  for (const JailPolicy& j : next.jails) {
    after.emplace(j.name, &j);
  }
  for (const std::string& name : next.StartOrder()) {
    auto it = before.find(name);
    if (it == before.end()) {
      diff.jails_to_add.push_back(name);
    } else if (it->second->spec != after.at(name)->spec) {
      diff.jails_to_restart.push_back(name);
    }
  }
  for (const JailPolicy& j : next.jails) {
    auto it = before.find(j.name);
    if (it != before.end() && it->second->spec == j.spec &&
        it->second->limits != j.limits) {
      diff.jails_with_only_limits_changed.push_back(j.name);
    }
  }
  for (const JailPolicy& j : next.jails) {
    auto it = before.find(j.name);
    if (it != before.end() && it->second->healthcheck != j.healthcheck) {
      diff.healthchecks_changed.push_back(StrCat("jail ", j.name));
    }
  }
  for (const TemplatePolicy& t : next.templates) {
    const TemplatePolicy* was = old.FindTemplate(t.name);
    if (was != nullptr && was->resolved.healthcheck != t.resolved.healthcheck) {
      diff.healthchecks_changed.push_back(StrCat("template ", t.name));
    }
  }
  const std::vector<std::string> old_order = old.StartOrder();
  for (auto it = old_order.rbegin(); it != old_order.rend(); ++it) {
    if (after.count(*it) == 0) {
      diff.jails_to_remove.push_back(*it);
    }
  }

  // Rule order never changes what rctl enforces, so the databases compare
  // as sets.
  // KernelRules(), not AllRules(): same rules, without RuleSet::Add's
  // quadratic cost.
  const std::vector<rctl::Rule> old_rules = old.KernelRules();
  const std::vector<rctl::Rule> new_rules = next.KernelRules();
  const std::set<std::string> old_texts = RuleTexts(old_rules);
  const std::set<std::string> new_texts = RuleTexts(new_rules);
  std::set<std::string> added_denies;
  for (const rctl::Rule& r : new_rules) {
    if (old_texts.count(rctl::FormatRule(r)) == 0) {
      diff.rules_to_add.push_back(r);
      if (r.action == rctl::Action::kDeny) {
        added_denies.insert(DenyKey(r));
      }
    }
  }
  bool removed_any = false;
  for (const rctl::Rule& r : old_rules) {
    if (new_texts.count(rctl::FormatRule(r)) != 0) {
      continue;
    }
    removed_any = true;
    if (r.action != rctl::Action::kDeny ||
        added_denies.count(DenyKey(r)) == 0) {
      diff.rules_to_remove.push_back(r);
    }
  }
  diff.rules_changed = !diff.rules_to_add.empty() || removed_any;

  DiffServer(old.server, next.server, &diff.server_changes);
  return diff;
}

std::string DescribeDiff(const PolicyDiff& diff) {
  std::string out;
  for (const std::string& n : diff.jails_to_remove) {
    StrAppend(&out, "remove jail ", n, "\n");
  }
  for (const std::string& n : diff.jails_to_add) {
    StrAppend(&out, "add jail ", n, "\n");
  }
  for (const std::string& n : diff.jails_to_restart) {
    StrAppend(&out, "restart jail ", n, "\n");
  }
  for (const std::string& n : diff.jails_with_only_limits_changed) {
    StrAppend(&out, "limits jail ", n, "\n");
  }
  for (const std::string& n : diff.healthchecks_changed) {
    StrAppend(&out, "healthcheck ", n, "\n");
  }
  for (const rctl::Rule& r : diff.rules_to_remove) {
    StrAppend(&out, "rule -", rctl::FormatRule(r), "\n");
  }
  for (const rctl::Rule& r : diff.rules_to_add) {
    StrAppend(&out, "rule +", rctl::FormatRule(r), "\n");
  }
  for (const std::string& k : diff.server_changes) {
    StrAppend(&out, "server ", k, "\n");
  }
  return out;
}

}  // namespace jailwarden::policy
