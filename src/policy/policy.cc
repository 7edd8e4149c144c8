#include "jailwarden/policy/policy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/depend.h"
#include "policy/loader.h"

namespace jailwarden::policy {
std::string PolicyError::ToString() const {
  if (line <= 0) {
    return StrCat(file, ": ", message);
  }
  return StrCat(file, ":", line, ":", column, ": ", message);
}

std::string FormatErrors(const std::vector<PolicyError>& errors) {
  std::string out;
  for (const PolicyError& e : errors) {
    StrAppend(&out, e.ToString(), "\n");
  }
  return out;
}

std::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kLinux:
      return "linux";
    case Backend::kFreeBsd:
      return "freebsd";
  }
  return "auto";
}

const JailPolicy* Policy::FindJail(std::string_view name) const {
  for (const JailPolicy& j : jails) {
    if (j.name == name) {
      return &j;
    }
  }
  return nullptr;
}

const TemplatePolicy* Policy::FindTemplate(std::string_view name) const {
  for (const TemplatePolicy& t : templates) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

std::vector<rctl::Rule> Policy::KernelRules() const {
  std::vector<rctl::Rule> out;
  for (const JailPolicy& jail : jails) {
    out.insert(out.end(), jail.limits.begin(), jail.limits.end());
  }
  out.insert(out.end(), rules.begin(), rules.end());
  return out;
}

rctl::RuleSet Policy::AllRules() const {
  rctl::RuleSet set;
  for (rctl::Rule& rule : KernelRules()) {
    // Validated when loaded (ParseRuleForAdd), so Add cannot fail.
    (void)set.Add(std::move(rule));
  }
  return set;
}

std::vector<std::string> Policy::StartOrder() const {
  // The jail layer's walk from every jail in file order; dangling entries
  // and cycles are skipped (the loader reported them).
  jail::DependGraph graph;
  std::vector<std::string> roots;
  for (const JailPolicy& j : jails) {
    graph[j.name] = j.spec.depend;
    roots.push_back(j.name);
  }
  absl::StatusOr<std::vector<std::string>> order = jail::DependWalk(graph, roots, nullptr);
  return *std::move(order);  // no handler, no error
}

std::vector<PolicyError> ValidatePolicyText(std::string_view text,
                                            std::string_view filename,
                                            const LoadOptions& options) {
  std::vector<PolicyError> errors;
  (void)internal::ParsePolicy(text, filename, options, &errors);
  return errors;
}

std::vector<PolicyError> ValidatePolicyFile(const std::string& path,
                                            const LoadOptions& options) {
  absl::StatusOr<std::string> text = ReadPolicyFileBounded(path);
  if (!text.ok()) {
    // "PATH: message" without the path, which PolicyError adds.
    std::string message(ToStd(text.status().message()));
    if (StartsWith(message, path + ": ")) message.erase(0, path.size() + 2);
    return {PolicyError{path, 0, 0, std::move(message)}};
  }
  return ValidatePolicyText(*text, path, options);
}

absl::StatusOr<Policy> LoadPolicyText(std::string_view text,
                                      std::string_view filename,
                                      const LoadOptions& options) {
  std::vector<PolicyError> errors;
  Policy policy = internal::ParsePolicy(text, filename, options, &errors);
  if (!errors.empty()) {
    std::string message = FormatErrors(errors);
    message.pop_back();  // the last "\n"
    return absl::InvalidArgumentError(message);
  }
  return policy;
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path,
                                      const LoadOptions& options) {
  absl::StatusOr<std::string> text = ReadPolicyFileBounded(path);
  if (!text.ok()) {
    return text.status();
  }
  return LoadPolicyText(*text, path, options);
}

absl::StatusOr<JailPolicy> InstantiateTemplate(const Policy& policy,
                                               std::string_view template_name,
                                               std::string_view jail_name) {
  const TemplatePolicy* t = policy.FindTemplate(template_name);
  if (t == nullptr) {
    return absl::NotFoundError(
        StrCat("no template named '", template_name, "' in ", policy.filename));
  }
  if (std::optional<std::string> p = JailNameProblem(jail_name)) {
    return absl::InvalidArgumentError(
        StrCat("jail name '", jail_name, "': ", *p));
  }
  if (policy.FindJail(jail_name) != nullptr) {
    return absl::InvalidArgumentError(StrCat(
        "jail name '", jail_name, "' is already used by ", policy.filename));
  }
  JailPolicy jail = t->resolved;
  const std::string old_prefix = StrCat("jail:", jail.name, ":");
  jail.name = std::string(jail_name);
  jail.template_name = t->name;
  jail.spec.name = jail.name;
  if (jail.path_defaulted) {
    const std::string& dir = policy.server.state_dir;
    jail.spec.path = StrCat(dir == "/" ? "" : dir, "/roots/", jail.name);
  }
  for (rctl::Rule& rule : jail.limits) {
    rule.subject_id = jail.name;
  }
  for (std::string& text : jail.limit_texts) {
    if (StartsWith(text, old_prefix)) {
      text = StrCat("jail:", jail.name, ":", text.substr(old_prefix.size()));
    }
  }
  return jail;
}

}  // namespace jailwarden::policy
