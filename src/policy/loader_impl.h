#pragma once

// internal::Loader: the policy reader behind ParsePolicy (loader.h), one
// member function per part of the schema (docs/policy.md). Its definitions
// are spread by section of the YAML file:
//   loader.cc            Run: the top-level map, in order
//   loader_values.cc     the shared helpers: errors with their YAML
//                        position, key checks, typed scalar readers
//   loader_server.cc     server: (and server.throttle)
//   loader_templates.cc  templates: and inheritance
//   loader_jails.cc      jails: (one jail's keys, `depend`)
//   loader_mounts.cc     a jail's mount: and copy: lists
//   loader_limits.cc     a jail's limits:, and rctl(8)'s checks of a rule
//   loader_rules.cc      rules:, and conflicts between rules and limits
//   loader_privileges.cc linux.capabilities, the backend's privilege checks,
//                        and the warnings for keys that relax isolation
//
// Templates are merged on the YAML tree before a jail is read: maps merge
// key by key (recursively), lists and scalars replace, an empty value
// removes the inherited key. So `limits:` merges per resource and every
// value keeps the position where it was written, in a template or in the
// jail. A problem in a template is reported once, at the template.
//
// Thread-compatible; one Loader reads one file.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/rule.h"
#include "policy/schema.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy::internal {

// What ReadJail learns besides the JailPolicy, for checks across jails.
struct JailExtras {
  std::vector<std::pair<std::string, Position>> depend;
  std::vector<Position> limit_positions;  // parallel to JailPolicy::limits
  bool has_errors = false;
};

struct TemplateState {
  const YamlNode* node = nullptr;  // the template's own map (or null node)
  Position position;
  enum { kUnvisited, kVisiting, kDone, kBad } state = kUnvisited;
  YamlNode merged;  // inheritance applied, no `template` key
};

class Loader {
 public:
  Loader(std::string_view filename, const LoadOptions& options)
      : filename_(filename), options_(options) {}

  // Reads the policy text; problems are collected (TakeErrors).
  Policy Run(std::string_view text);

  // Every problem found, sorted by position (one per position).
  std::vector<PolicyError> TakeErrors();
  // Every warning (a key that relaxes isolation), sorted by position, each
  // message starting "warning: ".
  std::vector<PolicyError> TakeWarnings();

 private:
  template <std::size_t N>
  static std::vector<std::string_view> Keys(const std::string_view (&keys)[N]) {
    return std::vector<std::string_view>(keys, keys + N);
  }

  // ---- loader_values.cc ----

  // One error per position: a value inherited from a template is read once
  // per jail using it, and a value that failed to parse is not judged again
  // (e.g. against another key).
  void Error(Position p, std::string message);
  // Error, also marking `extras` (if any) as having errors.
  void ErrorOnce(Position p, std::string message, JailExtras* extras);
  // Reports non-scalar keys, duplicate keys and keys not in `allowed`
  // (an empty `allowed` accepts any name: templates:, jails:).
  void CheckKeys(const YamlNode& map,
                 const std::vector<std::string_view>& allowed,
                 std::string_view context, std::string_view expected_text = {});

  // Scalar readers: nullopt after reporting at the value's position,
  // naming it `what`.
  std::optional<std::string> GetString(const YamlNode& n, std::string_view what,
                                       JailExtras* x = nullptr);
  std::optional<bool> GetBool(const YamlNode& n, std::string_view what,
                              JailExtras* x = nullptr);
  std::optional<int64_t> GetInt(const YamlNode& n, std::string_view what,
                                int64_t min, int64_t max,
                                JailExtras* x = nullptr);
  // "100ms", "2s", "1m", "1h30m" (absl::ParseDuration). With
  // `bare_seconds`, a plain integer counts seconds as in jail(8).
  std::optional<absl::Duration> GetDuration(
      const YamlNode& n, std::string_view what, absl::Duration min,
      absl::Duration max, bool bare_seconds, JailExtras* x = nullptr);
  std::optional<std::string> GetAbsolutePath(const YamlNode& n,
                                             std::string_view what,
                                             JailExtras* x = nullptr);
  // A scalar or a list of scalars.
  std::optional<std::vector<std::pair<std::string, Position>>> GetStringList(
      const YamlNode& n, std::string_view what, JailExtras* x = nullptr);
  bool ExpectMap(const YamlNode& n, std::string_view what,
                 JailExtras* x = nullptr);

  // ---- loader_server.cc ----

  void ParseServer(const YamlNode& node, ServerConfig* server);
  void ParseThrottle(const YamlNode& node, ThrottleConfig* t);

  // ---- loader_templates.cc ----

  void ParseTemplates(const YamlNode& node, Policy& policy);
  // Reads a `template:` reference. Returns the referenced state, or nullptr
  // after reporting.
  TemplateState* Reference(const YamlNode& ref, std::string_view context);
  // Applies inheritance to template `name`. `stack` holds the templates
  // being resolved, to name a cycle.
  void Resolve(const std::string& name, std::vector<std::string>& stack);
  // `over` merged onto `base` (see the top of this file).
  static YamlNode Merge(const YamlNode& base, const YamlNode& over);

  // ---- loader_jails.cc ----

  void ParseJails(const YamlNode& node, Policy& policy);
  // `depend` names defined jails, and no cycles.
  void CheckDepend(const Policy& policy, const std::vector<JailExtras>& extras);
  // Reads one jail (or a template as a jail of its own name) from its
  // merged map.
  JailPolicy ReadJail(const std::string& name, const YamlNode& map,
                      Position position, bool is_template,
                      const ServerConfig& server, JailExtras* x);
  static const ExecKey* FindExec(std::string_view key);
  void ReadParameter(const ParamDef& p, const YamlNode& value,
                     const std::string& what,
                     std::map<std::string, std::string>* out, JailExtras* x);
  // linux.seccomp: a map {allow: [names], deny: [names]}; each name must
  // be a system call (IsSyscallName), reported at its own position.
  void ReadSeccomp(const ParamDef& p, const YamlNode& value,
                   const std::string& what,
                   std::map<std::string, std::string>* out, JailExtras* x);
  static bool IsSyscallName(std::string_view name);

  // ---- loader_command.cc (issue 17: command / restart / log) ----

  // Reads `key` (command, restart, restart_backoff, restart_limit, log)
  // into spec->main / spec->log; returns false when `key` is none of them.
  bool ReadCommandKey(const std::string& key, const YamlNode& value,
                      const std::string& what, platform::JailSpec* spec,
                      JailExtras* x);

  // ---- end loader_command.cc ----

  // ---- loader_mounts.cc ----

  void ReadMounts(const YamlNode& value, const std::string& what,
                  const std::string& context,
                  std::vector<platform::MountSpec>* out, JailExtras* x);
  void ReadCopies(const YamlNode& value, const std::string& what,
                  const std::string& context,
                  std::vector<platform::CopySpec>* out, JailExtras* x);

  // ---- loader_limits.cc ----

  // `limits:` — resource: action=amount[/per], or a list of those. Each
  // becomes "jail:<name>:<resource>:<entry>" and goes through rctl(8)'s
  // expansion and rctl_add_rule(2)'s checks, so errors read as rctl's.
  void ReadLimits(const YamlNode& value, const std::string& jail_name,
                  const std::string& context, JailPolicy* jail, JailExtras* x);
  // policy::CheckRule (checks.h, shared with the API and the CLI),
  // reported at `pos`.
  absl::StatusOr<rctl::Rule> KernelRule(const std::string& arg, RuleUse use,
                                        Position pos, JailExtras* x);

  // ---- loader_health.cc (issue 17: health checks) ----

  // `healthcheck:` — a map of kHealthCheckKeys; every bad value reported
  // at its position; nothing set on any error.
  void ReadHealthCheck(const YamlNode& value, const std::string& what, JailPolicy* jail,
                       JailExtras* x);

  // ---- loader_rules.cc ----

  void ParseRules(const YamlNode& node, Policy& policy);
  // Jail limits and raw rules end up in one kernel rule list; a rule that
  // would silently replace another is a mistake in the file.
  void CheckRuleConflicts(const Policy& policy);

  // ---- loader_privileges.cc ----

  // One warning per position (see Error).
  void Warn(Position p, std::string message);
  // linux.capabilities: a string ("sys_nice, CAP_NET_RAW") or a list, each
  // name checked at its position (CapabilityNameProblem); "all" alone.
  void ReadCapabilities(const YamlNode& value, const std::string& what,
                        std::map<std::string, std::string>* out,
                        JailExtras* x);
  // Warns when `key` = `value` relaxes isolation (allow.mount,
  // allow.raw_sockets, linux.capabilities, linux.seccomp allow, ...).
  void WarnIfRelaxing(const std::string& key, const YamlNode& value,
                      const std::string& what);
  // After a jail is read: the Linux backend's privilege checks
  // (platform::JailPrivilegesFor) as errors at the jail, and the warning
  // for ip4: inherit with a TCP listener off loopback.
  void CheckPrivileges(const JailPolicy& jail, Position position,
                       const std::string& context, bool is_template,
                       const ServerConfig& server, JailExtras* x);

  std::string filename_;
  LoadOptions options_;
  std::vector<PolicyError> errors_;
  std::vector<PolicyError> warnings_;
  std::set<std::pair<int, int>> warned_positions_;
  std::set<std::pair<int, int>> reported_positions_;
  std::map<std::string, TemplateState> templates_;
  std::vector<std::string> template_order_;
  std::vector<std::vector<Position>> limit_positions_;  // per policy jail
  std::vector<Position> rule_positions_;                // per policy rule
};

}  // namespace jailwarden::policy::internal
