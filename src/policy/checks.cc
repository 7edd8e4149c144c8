// The checks shared by every entry point (checks.h).

#include "jailwarden/policy/checks.h"

#include <cerrno>
#include <map>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/capabilities.h"
#endif

namespace jailwarden::policy {
namespace {

using rctl::FormatRule;

// 's' in single quotes, shortened to 96 characters and "..." when longer
// than 100 (as the loader's Quote).
std::string Quoted(std::string_view s) {
  if (s.size() > 100) {
    return StrCat("'", s.substr(0, 96), "...'");
  }
  return StrCat("'", s, "'");
}

}  // namespace

std::string PolicyTooLargeMessage(std::string_view file) {
  return StrCat(file, ": File too large (a policy is limited to ",
                kMaxPolicyBytes, " bytes, ", kMaxPolicyBytes >> 20, " MiB)");
}

absl::StatusOr<std::string> ReadPolicyFileBounded(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxPolicyBytes);
  if (text.ok()) {
    return text;
  }
  const int err = StatusErrno(text.status()).value_or(EIO);
  if (err == EFBIG) {
    return ErrnoStatusWithMessage(EFBIG, PolicyTooLargeMessage(path));
  }
  return ErrnoStatusWithMessage(err, StrCat(path, ": ", FreeBsdStrerror(err)));
}

absl::StatusOr<rctl::Rule> CheckRule(std::string_view text,
                                     const RuleCheckOptions& options) {
  std::string kernel_text(text);
  if (options.expand) {
    absl::StatusOr<std::string> expanded =
        rctl::ExpandRule(text, {true, options.resolver});
    if (!expanded.ok()) {
      return ErrnoStatusWithMessage(
          EINVAL, StrCat("malformed rule ", Quoted(text), ": ",
                         ToStd(expanded.status().message())));
    }
    kernel_text = *std::move(expanded);
  }
  absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(kernel_text);
  if (!rule.ok()) {
    const std::optional<int> e = StatusErrno(rule.status());
    return ErrnoStatusWithMessage(
        e.value_or(EINVAL),
        StrCat("failed to add rule ", Quoted(text), ": ",
               e.has_value() ? std::string(FreeBsdStrerror(*e))
                             : ToStd(rule.status().message())));
  }
  if (rule->subject == rctl::SubjectType::kProcess) {
    return ErrnoStatusWithMessage(
        EOPNOTSUPP,
        StrCat("rule ", Quoted(text),
               ": process rules are refused (a pid does not survive a "
               "restart, and the daemon keeps its rules across restarts); "
               "use a jail, user or loginclass subject with /process"));
  }
  if (options.use == RuleUse::kJailLimit &&
      rule->subject != rctl::SubjectType::kJail) {
    return ErrnoStatusWithMessage(
        EINVAL, StrCat("limit ", Quoted(text), ": a jail's limit must have "
                       "the subject jail:NAME"));
  }
  return rule;
}

std::string RuleKey(const rctl::Rule& r) {
  std::string key =
      StrCat(static_cast<int>(r.subject), ":", r.subject_id, ":",
             static_cast<int>(rctl::Index(*r.resource)), ":",
             static_cast<int>(r.action), "/", static_cast<int>(r.per));
  if (r.action != rctl::Action::kDeny) {
    StrAppend(&key, "=", r.amount);
  }
  return key;
}

std::optional<std::string> DuplicateRuleProblem(
    const std::vector<rctl::Rule>& rules,
    const std::vector<std::string>& texts) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto [it, inserted] = seen.emplace(RuleKey(rules[i]), i);
    if (inserted) {
      continue;
    }
    const std::string text = i < texts.size() ? texts[i] : FormatRule(rules[i]);
    const std::string other =
        it->second < texts.size() ? texts[it->second] : FormatRule(rules[it->second]);
    if (rules[i].action == rctl::Action::kDeny) {
      return StrCat("duplicate limit ", Quoted(text), ": a deny for ",
                    rctl::ResourceName(*rules[i].resource),
                    " is already given as ", Quoted(other),
                    " and the kernel keeps only the last one");
    }
    return StrCat("duplicate limit ", Quoted(text),
                  ": the same rule is already given as ", Quoted(other));
  }
  return std::nullopt;
}

std::optional<std::string> JailNameProblem(std::string_view name) {
  if (name.empty()) {
    return "must not be empty";
  }
  if (name.size() > kMaxJailNameLength) {
    return StrCat("is ", name.size(), " characters long; at most ",
                  kMaxJailNameLength, " are allowed");
  }
  if (name.find('.') != std::string_view::npos) {
    return "must not contain '.' (jail(8) uses dots for child jails; "
           "jailwarden manages top-level jails)";
  }
  if (name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
          "0123456789_-") != std::string_view::npos) {
    return "may contain only ASCII letters, digits, '_' and '-'";
  }
  if (name.front() == '-') {
    return "must not start with '-'";
  }
  if (name.find_first_not_of("0123456789") == std::string_view::npos) {
    return "must not be all digits (jail(8) would take it as a jid)";
  }
  return std::nullopt;
}

std::optional<std::string> CapabilityNameProblem(std::string_view name) {
  if (name.empty()) {
    return "empty capability name";
  }
#if defined(__linux__)
  if (!platform::CapabilityFromName(name).has_value()) {
    return StrCat("unknown capability ", Quoted(name),
                  " (capabilities(7) names such as cap_sys_nice or "
                  "CAP_NET_RAW)");
  }
#else
  if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
      std::string_view::npos) {
    return StrCat("unknown capability ", Quoted(name));
  }
#endif
  return std::nullopt;
}

}  // namespace jailwarden::policy
