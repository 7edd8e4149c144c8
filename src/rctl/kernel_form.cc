#include "jailwarden/rctl/kernel_form.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "jailwarden/base/strings.h"

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"

namespace jailwarden::rctl {
namespace {

constexpr int64_t kMillion = 1000000;

// strsep(&rest, delims): the token up to the first delimiter; `rest` becomes
// what follows it, or nullopt once no delimiter was left. A nullopt `rest`
// yields nullopt (a NULL token).
std::optional<std::string_view> StrSep(std::optional<std::string_view>& rest,
                                       std::string_view delims) {
  if (!rest.has_value()) return std::nullopt;
  const std::string_view s = *rest;
  const std::size_t pos = s.find_first_of(delims);
  if (pos == std::string_view::npos) {
    rest.reset();
    return s;
  }
  rest = s.substr(pos + 1);
  return s.substr(0, pos);
}

bool Undefined(const std::optional<std::string_view>& field) {
  return !field.has_value() || field->empty();
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

// The kernel's strtoul(str, &end, 10) (sys/libkern/strtoul.c): optional
// white space and sign, decimal digits, ULONG_MAX on overflow, negation of
// the magnitude for '-'. Returns false unless the whole string was consumed
// (str2int64 / str2id compare end - str with strlen).
bool KernelStrtoulWhole(std::string_view s, uint64_t& out) {
  std::size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  }
  uint64_t acc = 0;
  bool any = false, overflow = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    any = true;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (acc > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      overflow = true;
    } else {
      acc = acc * 10 + d;
    }
  }
  if (!any) {
    // No conversion: end = str, so the length test fails unless empty,
    // and empty fields never reach here.
    return false;
  }
  if (overflow) {
    acc = std::numeric_limits<uint64_t>::max();
  } else if (negative) {
    acc = ~acc + 1;
  }
  out = acc;
  return i == s.size();
}

absl::Status Einval(std::string_view what) {
  return ErrnoStatus(EINVAL, what);
}

}  // namespace

absl::StatusOr<Rule> ParseRuleText(std::string_view text,
                                   const ProcessExists& process_exists) {
  // copyinstr stops at the first NUL.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    text = text.substr(0, nul);
  }
  std::optional<std::string_view> rest = text;
  const std::optional<std::string_view> subject_str = StrSep(rest, ":");
  const std::optional<std::string_view> id_str = StrSep(rest, ":");
  const std::optional<std::string_view> resource_str = StrSep(rest, ":");
  const std::optional<std::string_view> action_str = StrSep(rest, "=/");
  const std::optional<std::string_view> amount_str = StrSep(rest, "/");
  const std::optional<std::string_view> per_str = rest;

  Rule rule;
  if (!Undefined(subject_str)) {
    std::optional<SubjectType> s = ParseSubjectTypeName(*subject_str);
    if (!s.has_value()) {
      return Einval(StrCat("unknown subject '", *subject_str, "'"));
    }
    rule.subject = *s;
  }

  if (!Undefined(id_str)) {
    switch (rule.subject) {
      case SubjectType::kUndefined:
        return Einval("subject-id given without a subject");
      case SubjectType::kProcess:
      case SubjectType::kUser: {
        uint64_t id = 0;
        if (!KernelStrtoulWhole(*id_str, id)) {
          return Einval(StrCat("invalid ",
                                     SubjectTypeName(rule.subject), " id '",
                                     *id_str, "'"));
        }
        // pid_t and uid_t are 32 bits; the kernel prints both with %d.
        const int32_t printed = static_cast<int32_t>(static_cast<uint32_t>(id));
        if (rule.subject == SubjectType::kProcess && process_exists &&
            !process_exists(printed)) {
          return ErrnoStatus(ESRCH, StrCat("no process ", printed));
        }
        rule.subject_id = StrCat(printed);
        break;
      }
      case SubjectType::kLoginclass:
        // loginclass_find() fails for strlen >= MAXLOGNAME.
        if (id_str->size() >= kMaxLoginNameLength) {
          return ErrnoStatus(ENAMETOOLONG, "login class name too long");
        }
        rule.subject_id = std::string(*id_str);
        break;
      case SubjectType::kJail:
        // prison_racct_find() fails for strlen >= MAXHOSTNAMELEN.
        if (id_str->size() >= kMaxJailNameLength) {
          return ErrnoStatus(ENAMETOOLONG, "jail name too long");
        }
        rule.subject_id = std::string(*id_str);
        break;
    }
  }

  if (!Undefined(resource_str)) {
    std::optional<Resource> r = ParseResourceName(*resource_str);
    if (!r.has_value()) {
      return Einval(StrCat("unknown resource '", *resource_str, "'"));
    }
    rule.resource = *r;
  }

  if (!Undefined(action_str)) {
    std::optional<Action> a = ParseActionName(*action_str);
    if (!a.has_value()) {
      return Einval(StrCat("unknown action '", *action_str, "'"));
    }
    rule.action = *a;
  }

  if (!Undefined(amount_str)) {
    uint64_t raw = 0;
    if (!KernelStrtoulWhole(*amount_str, raw)) {
      return Einval(StrCat("invalid amount '", *amount_str, "'"));
    }
    const int64_t amount = static_cast<int64_t>(raw);
    if (amount < 0) {
      return ErrnoStatus(ERANGE, "amount out of range");
    }
    rule.amount = amount;
    if (rule.resource.has_value() && IsInMillions(*rule.resource)) {
      if (rule.amount > std::numeric_limits<int64_t>::max() / kMillion) {
        return ErrnoStatus(ERANGE, "amount out of range");
      }
      rule.amount *= kMillion;
    }
  }

  if (!Undefined(per_str)) {
    std::optional<SubjectType> p = ParseSubjectTypeName(*per_str);
    if (!p.has_value()) {
      return Einval(StrCat("unknown per '", *per_str, "'"));
    }
    rule.per = *p;
  }
  return rule;
}

absl::StatusOr<Rule> ParseRuleForAdd(std::string_view text,
                                     const ProcessExists& process_exists) {
  // rctl_read_inbuf: the caller passes strlen + 1 bytes.
  if (text.size() + 1 > kMaxInputLength) {
    return ErrnoStatus(E2BIG, "rule longer than RCTL_MAX_INBUFSIZE");
  }
  JW_ASSIGN_OR_RETURN(Rule rule, ParseRuleText(text, process_exists));
  if (rule.per == SubjectType::kUndefined &&
      rule.subject != SubjectType::kUndefined) {
    rule.per = rule.subject;
  }
  if (!rule.FullySpecified()) {
    return Einval("rule not fully specified");
  }
  JW_RETURN_IF_ERROR(ValidateForAdd(rule));
  return rule;
}

absl::Status ValidateForAdd(const Rule& rule) {
  const Resource r = *rule.resource;
  if (rule.action == Action::kDeny && !IsDeniable(r) &&
      r != Resource::kMemoryuse && r != Resource::kPcpu) {
    return ErrnoStatus(EOPNOTSUPP,
                       StrCat("deny is not supported for ", ResourceName(r)));
  }
  if (rule.action == Action::kThrottle && !IsDecaying(r)) {
    return ErrnoStatus(
        EOPNOTSUPP, StrCat("throttle is not supported for ", ResourceName(r)));
  }
  if (rule.action == Action::kThrottle && r == Resource::kPcpu) {
    return ErrnoStatus(EOPNOTSUPP, "throttle is not supported for pcpu");
  }
  if (rule.per == SubjectType::kProcess && IsSloppy(r)) {
    return ErrnoStatus(
        EOPNOTSUPP,
        StrCat(ResourceName(r), " cannot be limited per process"));
  }
  return absl::OkStatus();
}

std::string FormatRule(const Rule& rule) {
  std::string out;
  out.reserve(64);
  StrAppend(&out, SubjectTypeName(rule.subject), ":", rule.subject_id,
                  ":");
  if (rule.resource.has_value()) {
    StrAppend(&out, ResourceName(*rule.resource));
  }
  StrAppend(&out, ":", ActionName(rule.action), "=");
  if (rule.amount != kAmountUndefined) {
    StrAppend(&out, rule.UserAmount());
  }
  // rctl_rule_to_sbuf prints "/per" when per differs from the subject. A
  // filter's undefined per prints nothing, so it parses back undefined.
  if (rule.per != rule.subject && rule.per != SubjectType::kUndefined) {
    StrAppend(&out, "/", SubjectTypeName(rule.per));
  }
  return out;
}

bool RuleMatchesFilter(const Rule& rule, const Rule& filter) {
  if (filter.subject != SubjectType::kUndefined) {
    if (rule.subject != filter.subject) return false;
    if (!filter.subject_id.empty() && rule.subject_id != filter.subject_id) {
      return false;
    }
  }
  if (filter.resource.has_value() && rule.resource != filter.resource) {
    return false;
  }
  if (filter.action != Action::kUndefined && rule.action != filter.action) {
    return false;
  }
  if (filter.amount != kAmountUndefined && rule.amount != filter.amount) {
    return false;
  }
  if (filter.per != SubjectType::kUndefined && rule.per != filter.per) {
    return false;
  }
  return true;
}

std::string FormatUsage(const UsageVector& usage, SubjectType subject) {
  std::string out;
  out.reserve(400);
  for (const ResourceInfo& info : ResourceTable()) {
    if (subject == SubjectType::kProcess && (info.flags & kSloppy) != 0) {
      continue;
    }
    int64_t v = usage[Index(info.resource)];
    if ((info.flags & kInMillions) != 0) v /= kMillion;
    if (!out.empty()) out.push_back(',');
    StrAppend(&out, info.name, "=", v);
  }
  return out;
}

absl::StatusOr<std::array<std::optional<int64_t>, kResourceCount>> ParseUsage(
    std::string_view text) {
  std::array<std::optional<int64_t>, kResourceCount> out{};
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    text = text.substr(0, nul);
  }
  if (text.empty()) return out;
  for (std::string_view pair : Split(text, ',')) {
    if (pair.empty()) {
      continue;  // rctl(8) stops at an empty element; a trailing comma
    }
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Einval(StrCat("usage element without '=': '", pair, "'"));
    }
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    std::optional<Resource> r = ParseResourceName(name);
    if (!r.has_value()) {
      return Einval(StrCat("unknown resource '", name, "' in usage"));
    }
    int64_t v = 0;
    if (std::optional<int64_t> parsed = ParseInt<int64_t>(value);
        parsed.has_value()) {
      v = *parsed;
    } else {
      return Einval(StrCat("invalid value '", value, "' for ", name));
    }
    if (IsInMillions(*r)) {
      if (v > std::numeric_limits<int64_t>::max() / kMillion ||
          v < std::numeric_limits<int64_t>::min() / kMillion) {
        return ErrnoStatus(ERANGE, StrCat("value of ", name, " too large"));
      }
      v *= kMillion;
    }
    out[Index(*r)] = v;
  }
  return out;
}

absl::StatusOr<std::vector<Rule>> ParseRuleList(std::string_view text) {
  std::vector<Rule> out;
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    text = text.substr(0, nul);
  }
  if (text.empty()) return out;
  for (std::string_view one : Split(text, ',')) {
    if (one.empty()) break;  // as rctl(8)'s print_rules
    JW_ASSIGN_OR_RETURN(Rule rule, ParseRuleText(one));
    if (rule.per == SubjectType::kUndefined) rule.per = rule.subject;
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace jailwarden::rctl
