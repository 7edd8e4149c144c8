// Rule families: configured limits and their fidelity (re-rendered only
// when the enforcement list changes), and the engine's per-rule counters
// aggregated per (rule, jail).

#include <algorithm>
#include <limits>

#include "jailwarden/metrics/collector.h"
#include "jailwarden/metrics/names.h"
#include "jailwarden/rctl/kernel_form.h"
#include "metrics/text_format.h"

namespace jailwarden::metrics {
namespace {

using text::AppendFamilyHeader;
using text::AppendInt;
using text::AppendKernelValue;
using text::AppendLabel;
using text::BeginSample;
using text::SampleUint;

// platform::FidelityName lives in jw_platform, which metrics does not link
// (architecture §3: metrics uses racct and engine); same spelling.
std::string_view FidelityLabel(platform::Fidelity fidelity) {
  switch (fidelity) {
    case platform::Fidelity::kExact:
      return "exact";
    case platform::Fidelity::kApproximate:
      return "approximate";
    case platform::Fidelity::kSampled:
      return "sampled";
    case platform::Fidelity::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace

namespace {

// Appends one family per unit: `base` + UnitSuffix, each with its header
// and the samples rendered into `by_unit`.
void AppendSplitFamilies(std::string& out, std::string_view base, std::string_view help,
                         const std::array<std::string, kUnits.size()>& by_unit) {
  std::string name;
  for (std::size_t u = 0; u < kUnits.size(); ++u) {
    name.assign(base);
    name.append(UnitSuffix(kUnits[u]));
    AppendFamilyHeader(out, name, help, "gauge");
    out.append(by_unit[u]);
  }
}

}  // namespace

void MetricsCollector::RenderEnforcements(std::string& out) {
  if (!sources_.enforcements) {
    return;
  }
  std::shared_ptr<const std::vector<platform::Enforcement>> list = sources_.enforcements();
  if (!enforcements_rendered_ || list != enforcements_) {
    enforcements_ = list;
    enforcements_rendered_ = true;
    for (std::string& t : limits_text_) {
      t.clear();
    }
    for (std::string& t : amounts_text_) {
      t.clear();
    }
    fidelity_text_.clear();
    std::vector<std::string> seen;
    std::string labels;
    std::string name;
    if (list != nullptr) {
      for (const platform::Enforcement& e : *list) {
        const rctl::Rule& rule = e.rule;
        const std::string rule_id = RuleId(rctl::FormatRule(rule));
        if (std::find(seen.begin(), seen.end(), rule_id) != seen.end()) {
          continue;
        }
        seen.push_back(rule_id);
        labels.clear();
        AppendLabel(labels, "rule", rule_id);
        labels.push_back(',');
        AppendLabel(labels, "fidelity", FidelityLabel(e.fidelity));
        labels.push_back(',');
        AppendLabel(labels, "mechanism", MechanismClass(e.mechanism));
        BeginSample(fidelity_text_, "jailwarden_rule_fidelity", labels);
        fidelity_text_.append("1\n");

        if (!rule.resource.has_value() || rule.amount == rctl::kAmountUndefined) {
          continue;
        }
        const rctl::Resource resource = *rule.resource;
        const std::size_t unit = static_cast<std::size_t>(UnitOf(resource));
        const std::string_view per = rctl::SubjectTypeName(
            rule.per == rctl::SubjectType::kUndefined ? rule.subject : rule.per);
        labels.clear();
        AppendLabel(labels, "rule", rule_id);
        labels.push_back(',');
        AppendLabel(labels, "resource", rctl::ResourceName(resource));
        labels.push_back(',');
        AppendLabel(labels, "action", rctl::ActionName(rule.action));
        labels.push_back(',');
        AppendLabel(labels, "per", per);
        name.assign("jailwarden_rule_amount");
        name.append(UnitSuffix(kUnits[unit]));
        BeginSample(amounts_text_[unit], name, labels);
        AppendKernelValue(amounts_text_[unit], rule.amount, rctl::IsInMillions(resource));
        amounts_text_[unit].push_back('\n');

        if (rule.subject != rctl::SubjectType::kJail) {
          continue;
        }
        labels.clear();
        AppendLabel(labels, "name", rule.subject_id);
        labels.push_back(',');
        AppendLabel(labels, "resource", rctl::ResourceName(resource));
        labels.push_back(',');
        AppendLabel(labels, "action", rctl::ActionName(rule.action));
        labels.push_back(',');
        AppendLabel(labels, "per", per);
        name.assign("jailwarden_jail_limit");
        name.append(UnitSuffix(kUnits[unit]));
        BeginSample(limits_text_[unit], name, labels);
        AppendKernelValue(limits_text_[unit], rule.amount, rctl::IsInMillions(resource));
        limits_text_[unit].push_back('\n');
      }
    }
  }
  AppendSplitFamilies(out, "jailwarden_jail_limit",
                      "Configured RCTL amount of a jail rule, in the family's unit.",
                      limits_text_);
  AppendSplitFamilies(out, "jailwarden_rule_amount",
                      "Amount of a rule in force (any subject), in the family's unit.",
                      amounts_text_);
  AppendFamilyHeader(out, "jailwarden_rule_fidelity",
                     "How faithfully this host's backend enforces the rule, and by which kind "
                     "of mechanism; the value is always 1.",
                     "gauge");
  out.append(fidelity_text_);
}

void MetricsCollector::RenderRuleStats(std::string& out) {
  if (!sources_.rule_stats) {
    return;
  }
  const std::vector<engine::RuleTargetStats> stats = sources_.rule_stats();
  std::string& key = scratch_key_;
  for (const engine::RuleTargetStats& st : stats) {
    if (!st.rule.resource.has_value()) {
      continue;
    }
    const rctl::Resource resource = *st.rule.resource;
    // Per-target delta of the engine's counters; a counter that went down
    // (the engine forgot the pair, e.g. after its rule was replaced) counts
    // from zero again.
    key.clear();
    key.append(st.rule_text);
    key.push_back('\x1f');
    key.append(st.jail);
    key.push_back('\x1f');
    AppendInt(key, st.target.kind == engine::TargetKind::kProcess ? st.target.pid : -1);
    TargetCounters& tc = targets_[key];
    const uint64_t d_matched = st.matched >= tc.matched ? st.matched - tc.matched : st.matched;
    const uint64_t d_over =
        st.evaluations_over >= tc.over ? st.evaluations_over - tc.over : st.evaluations_over;
    tc.matched = st.matched;
    tc.over = st.evaluations_over;
    tc.epoch = render_epoch_;

    // Aggregate by the rule's identity without its amount: a changed amount
    // continues the series.
    const std::string rule_id = RuleId(st.rule_text);
    key.assign(rule_id);
    key.push_back('\x1f');
    key.append(st.jail);
    auto [it, inserted] = rules_.try_emplace(key);
    RuleAggregate& agg = it->second;
    if (inserted) {
      agg.short_labels.clear();
      AppendLabel(agg.short_labels, "rule", rule_id);
      agg.short_labels.push_back(',');
      AppendLabel(agg.short_labels, "name", st.jail);
      agg.labels = agg.short_labels;
      agg.labels.push_back(',');
      AppendLabel(agg.labels, "resource", rctl::ResourceName(resource));
      agg.labels.push_back(',');
      AppendLabel(agg.labels, "action", rctl::ActionName(st.rule.action));
      agg.in_millions = rctl::IsInMillions(resource);
      agg.unit = UnitOf(resource);
      const bool pcpu = resource == rctl::Resource::kPcpu;
      agg.deny = st.rule.action == rctl::Action::kDeny && !pcpu;
      // A pcpu deny is enforced by throttling (freebsd-rctl.md §7.6).
      agg.throttle = st.rule.action == rctl::Action::kThrottle ||
                     (st.rule.action == rctl::Action::kDeny && pcpu);
    }
    if (agg.epoch != render_epoch_) {
      agg.epoch = render_epoch_;
      agg.headroom = std::numeric_limits<int64_t>::max();
    }
    agg.matches += d_matched;
    if (agg.deny) {
      agg.denials += d_over;
    }
    if (agg.throttle) {
      agg.throttles += d_over;
    }
    agg.headroom = std::min(agg.headroom, st.headroom);
  }
  // Forget pairs and series the engine no longer has.
  std::erase_if(targets_, [&](const auto& kv) { return kv.second.epoch != render_epoch_; });
  std::erase_if(rules_, [&](const auto& kv) { return kv.second.epoch != render_epoch_; });

  AppendFamilyHeader(out, "jailwarden_rule_matches_total",
                     "Exceedance episodes (usage went from at or under the amount to over "
                     "it) of a rule, per jail.",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    SampleUint(out, "jailwarden_rule_matches_total", agg.labels, agg.matches);
  }
  AppendFamilyHeader(out, "jailwarden_rule_denials_total",
                     "Engine evaluations at which usage was over a deny rule's amount, per "
                     "jail (the kernel refuses further charges meanwhile).",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    if (agg.deny) {
      SampleUint(out, "jailwarden_rule_denials_total", agg.short_labels, agg.denials);
    }
  }
  AppendFamilyHeader(out, "jailwarden_rule_throttles_total",
                     "Engine evaluations that throttled a jail's processes for a throttle "
                     "rule or a pcpu deny rule, per jail.",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    if (agg.throttle) {
      SampleUint(out, "jailwarden_rule_throttles_total", agg.short_labels, agg.throttles);
    }
  }
  std::string name;
  for (const Unit unit : kUnits) {
    name.assign("jailwarden_rule_headroom");
    name.append(UnitSuffix(unit));
    AppendFamilyHeader(out, name,
                       "Amount minus usage at the last evaluation (negative when over), in "
                       "the family's unit; the tightest target of the jail.",
                       "gauge");
    for (const auto& [k, agg] : rules_) {
      if (agg.unit != unit) {
        continue;
      }
      BeginSample(out, name, agg.labels);
      AppendKernelValue(out, agg.headroom, agg.in_millions);
      out.push_back('\n');
    }
  }
}

}  // namespace jailwarden::metrics
