// Reads the YAML tree of a policy file into a Policy, collecting every
// problem with its position (docs/policy.md is the schema this implements).
//
// Templates are merged on the YAML tree before a jail is read: maps merge
// key by key (recursively), lists and scalars replace, an empty value
// removes the inherited key. So `limits:` merges per resource and every
// value keeps the position where it was written, in a template or in the
// jail. A problem in a template is reported once, at the template.

#include "policy/loader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/user_form.h"
#include "policy/schema.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy {
namespace {

using internal::ExecKey;
using internal::FindParam;
using internal::Found;
using internal::JailKeys;
using internal::kCopyKeys;
using internal::kCoreJailKeys;
using internal::kExecKeys;
using internal::kFamilies;
using internal::kMountKeys;
using internal::kMountTypes;
using internal::kParams;
using internal::kServerKeys;
using internal::kThrottleKeys;
using internal::kTopKeys;
using internal::ListenProblem;
using internal::ParamDef;
using internal::ParamType;
using internal::Position;
using internal::PosText;
using internal::Quote;
using internal::Suggest;
using internal::ValidIp;
using internal::YamlNode;

// ---- the loader -----------------------------------------------------------

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

  Policy Run(std::string_view text) {
    Policy policy;
    policy.filename = filename_;
    YamlNode root;
    internal::ParseProblem problem;
    if (!internal::ParseYaml(text, &root, &problem)) {
      Error(problem.position, StrCat("invalid YAML: ", problem.message));
      return policy;
    }
    if (root.IsNull()) {
      return policy;
    }
    if (!root.IsMap()) {
      Error(root.position,
            StrCat("expected a map with server:, templates:, jails: and "
                   "rules:, got ",
                   Found(root)));
      return policy;
    }
    CheckKeys(root, Keys(kTopKeys), "the policy");
    if (const YamlNode* server = root.Find("server")) {
      ParseServer(*server, &policy.server);
    }
    if (const YamlNode* templates = root.Find("templates")) {
      ParseTemplates(*templates, policy);
    }
    if (const YamlNode* jails = root.Find("jails")) {
      ParseJails(*jails, policy);
    }
    if (const YamlNode* rules = root.Find("rules")) {
      ParseRules(*rules, policy);
    }
    CheckRuleConflicts(policy);
    return policy;
  }

  std::vector<PolicyError> TakeErrors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const PolicyError& a, const PolicyError& b) {
                       return std::pair(a.line, a.column) <
                              std::pair(b.line, b.column);
                     });
    return std::move(errors_);
  }

 private:
  template <std::size_t N>
  static std::vector<std::string_view> Keys(const std::string_view (&keys)[N]) {
    return std::vector<std::string_view>(keys, keys + N);
  }

  // One error per position: a value inherited from a template is read once
  // per jail using it, and a value that failed to parse is not judged again
  // (e.g. against another key).
  void Error(Position p, std::string message) {
    if (!reported_positions_.insert({p.line, p.column}).second) {
      return;
    }
    errors_.push_back({filename_, p.line, p.column, std::move(message)});
  }

  void ErrorOnce(Position p, std::string message, JailExtras* extras) {
    if (extras != nullptr) {
      extras->has_errors = true;
    }
    Error(p, std::move(message));
  }

  // Reports non-scalar keys, duplicate keys and keys not in `allowed`
  // (an empty `allowed` accepts any name: templates:, jails:).
  void CheckKeys(const YamlNode& map,
                 const std::vector<std::string_view>& allowed,
                 std::string_view context,
                 std::string_view expected_text = {}) {
    std::map<std::string, Position> seen;
    for (const auto& [key, value] : map.entries) {
      if (!key.IsScalar()) {
        Error(key.position, StrCat("expected a plain key in ", context,
                                   ", got ", Found(key)));
        continue;
      }
      if (auto [it, inserted] = seen.emplace(key.scalar, key.position);
          !inserted) {
        Error(key.position,
              StrCat("duplicate key ", Quote(key.scalar), " in ", context,
                     " (first at ", PosText(it->second), ")"));
        continue;
      }
      if (allowed.empty() || std::find(allowed.begin(), allowed.end(),
                                       key.scalar) != allowed.end()) {
        continue;
      }
      std::string message =
          StrCat("unknown key ", Quote(key.scalar), " in ", context, "; ");
      const bool family = std::find(std::begin(kFamilies), std::end(kFamilies),
                                    key.scalar) != std::end(kFamilies);
      if (family && value.IsMap() && !value.entries.empty() &&
          value.entries.front().first.IsScalar()) {
        StrAppend(&message, "write jail(8) parameters flat, e.g. '", key.scalar,
                  ".", value.entries.front().first.scalar, ": ...'");
      } else if (const std::string s = Suggest(key.scalar, allowed);
                 !s.empty()) {
        if (s.front() == '(') {
          StrAppend(&message, "the name is ", s);
        } else {
          StrAppend(&message, "did you mean ", Quote(s), "?");
        }
      } else if (!expected_text.empty()) {
        StrAppend(&message, "expected one of: ", expected_text);
      } else {
        StrAppend(&message, "expected one of: ", Join(allowed, ", "));
      }
      Error(key.position, std::move(message));
    }
  }

  // ---- scalar readers (nullopt after reporting) ----

  std::optional<std::string> GetString(const YamlNode& n, std::string_view what,
                                       JailExtras* x = nullptr) {
    if (!n.IsScalar()) {
      ErrorOnce(n.position, StrCat(what, ": expected a string, got ", Found(n)),
                x);
      return std::nullopt;
    }
    return n.scalar;
  }

  std::optional<bool> GetBool(const YamlNode& n, std::string_view what,
                              JailExtras* x = nullptr) {
    if (n.IsScalar()) {
      const std::string v = AsciiToLower(n.scalar);
      if (v == "true" || v == "yes" || v == "on") {
        return true;
      }
      if (v == "false" || v == "no" || v == "off") {
        return false;
      }
    }
    ErrorOnce(n.position,
              StrCat(what, ": expected true or false, got ", Found(n)), x);
    return std::nullopt;
  }

  std::optional<int64_t> GetInt(const YamlNode& n, std::string_view what,
                                int64_t min, int64_t max,
                                JailExtras* x = nullptr) {
    std::optional<int64_t> v;
    if (n.IsScalar()) {
      v = ParseInt<int64_t>(n.scalar);
    }
    if (!v.has_value() || *v < min || *v > max) {
      ErrorOnce(n.position,
                StrCat(what, ": expected an integer from ", min, " to ", max,
                       ", got ", Found(n)),
                x);
      return std::nullopt;
    }
    return v;
  }

  // "100ms", "2s", "1m", "1h30m" (absl::ParseDuration). With
  // `bare_seconds`, a plain integer counts seconds as in jail(8).
  std::optional<absl::Duration> GetDuration(
      const YamlNode& n, std::string_view what, absl::Duration min,
      absl::Duration max, bool bare_seconds, JailExtras* x = nullptr) {
    absl::Duration d;
    bool ok = false;
    if (n.IsScalar()) {
      const std::string_view text = StripWhitespace(n.scalar);
      if (const std::optional<int64_t> secs = ParseInt<int64_t>(text);
          secs.has_value()) {
        ok = bare_seconds && *secs >= 0 && *secs <= 1000000000;
        d = absl::Seconds(ok ? *secs : 0);
      } else {
        ok = absl::ParseDuration(ToAbsl(text), &d) &&
             d != absl::InfiniteDuration();
      }
    }
    if (!ok || d < min || d > max) {
      ErrorOnce(
          n.position,
          StrCat(what, ": expected a duration from ", absl::FormatDuration(min),
                 " to ", absl::FormatDuration(max),
                 bare_seconds ? " (a plain number counts seconds)"
                              : " such as 100ms, 2s or 1m",
                 ", got ", Found(n)),
          x);
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::string> GetAbsolutePath(const YamlNode& n,
                                             std::string_view what,
                                             JailExtras* x = nullptr) {
    std::optional<std::string> s = GetString(n, what, x);
    if (!s.has_value()) {
      return std::nullopt;
    }
    if (!StartsWith(*s, "/")) {
      ErrorOnce(n.position,
                StrCat(what, ": expected an absolute path, got ", Quote(*s)),
                x);
      return std::nullopt;
    }
    if (s->find('\0') != std::string::npos || s->size() > 1023) {
      ErrorOnce(n.position, StrCat(what, ": path too long or contains NUL"), x);
      return std::nullopt;
    }
    return s;
  }

  // A scalar or a list of scalars.
  std::optional<std::vector<std::pair<std::string, Position>>> GetStringList(
      const YamlNode& n, std::string_view what, JailExtras* x = nullptr) {
    std::vector<std::pair<std::string, Position>> out;
    if (n.IsScalar()) {
      out.emplace_back(n.scalar, n.position);
      return out;
    }
    if (!n.IsSequence()) {
      ErrorOnce(n.position,
                StrCat(what, ": expected a string or a list of strings, got ",
                       Found(n)),
                x);
      return std::nullopt;
    }
    bool ok = true;
    for (const YamlNode& item : n.items) {
      if (!item.IsScalar()) {
        ErrorOnce(
            item.position,
            StrCat(what, ": expected a string in the list, got ", Found(item)),
            x);
        ok = false;
        continue;
      }
      out.emplace_back(item.scalar, item.position);
    }
    if (!ok) {
      return std::nullopt;
    }
    return out;
  }

  bool ExpectMap(const YamlNode& n, std::string_view what,
                 JailExtras* x = nullptr) {
    if (n.IsMap()) {
      return true;
    }
    ErrorOnce(n.position, StrCat(what, ": expected a map, got ", Found(n)), x);
    return false;
  }

  // ---- server: ----

  void ParseServer(const YamlNode& node, ServerConfig* server) {
    if (node.IsNull()) {
      return;
    }
    if (!ExpectMap(node, "server")) {
      return;
    }
    CheckKeys(node, Keys(kServerKeys), "server");
    bool token_file_set = false;
    const YamlNode* sample_node = nullptr;
    for (const auto& [key, value] : node.entries) {
      if (!key.IsScalar() || value.IsNull()) {
        continue;
      }
      const std::string& k = key.scalar;
      const std::string what = StrCat("server.", k);
      if (k == "listen") {
        if (auto list = GetStringList(value, what)) {
          server->listen.clear();
          for (const auto& [addr, pos] : *list) {
            if (std::optional<std::string> p = ListenProblem(addr)) {
              Error(pos, StrCat(what, ": ", Quote(addr), ": ", *p));
            } else {
              server->listen.push_back(addr);
            }
          }
        }
      } else if (k == "api_socket") {
        if (value.IsScalar() && value.scalar.empty()) {
          server->api_socket.clear();
        } else if (auto p = GetAbsolutePath(value, what)) {
          // sockaddr_un.sun_path is 104 bytes on FreeBSD (108 on Linux).
          if (p->size() >= 104) {
            Error(value.position,
                  StrCat(what,
                         ": a unix socket path must be shorter than 104 "
                         "bytes, got ",
                         p->size()));
          } else {
            server->api_socket = *p;
          }
        }
      } else if (k == "state_dir") {
        if (auto p = GetAbsolutePath(value, what)) {
          while (p->size() > 1 && p->back() == '/') {
            p->pop_back();
          }
          server->state_dir = *p;
        }
      } else if (k == "backend") {
        if (auto s = GetString(value, what)) {
          if (*s == "auto") {
            server->backend = Backend::kAuto;
          } else if (*s == "linux") {
            server->backend = Backend::kLinux;
          } else if (*s == "freebsd") {
            server->backend = Backend::kFreeBsd;
          } else {
            Error(value.position, StrCat(what,
                                         ": expected auto, linux or "
                                         "freebsd, got ",
                                         Quote(*s)));
          }
        }
      } else if (k == "sample_interval") {
        sample_node = &value;
        if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                                 absl::Seconds(60), false)) {
          server->sample_interval = *d;
        }
      } else if (k == "slow_interval") {
        if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                                 absl::Hours(1), false)) {
          server->slow_interval = *d;
        }
      } else if (k == "history") {
        if (auto d = GetDuration(value, what, absl::Milliseconds(1),
                                 absl::Hours(24), false)) {
          server->history = *d;
        }
      } else if (k == "log_rate_limit") {
        if (auto v = GetInt(value, what, 0, 1000000)) {
          server->log_rate_limit = *v;
        }
      } else if (k == "devctl_rate_limit") {
        if (auto v = GetInt(value, what, 0, 1000000)) {
          server->devctl_rate_limit = *v;
        }
      } else if (k == "throttle") {
        ParseThrottle(value, &server->throttle);
      } else if (k == "token_file") {
        if (auto p = GetAbsolutePath(value, what)) {
          server->token_file = *p;
          token_file_set = true;
        }
      } else if (k == "metrics_path") {
        if (auto s = GetString(value, what)) {
          if (!StartsWith(*s, "/") ||
              s->find_first_of(" ?#") != std::string::npos) {
            Error(value.position,
                  StrCat(what, ": expected a URL path starting with '/', got ",
                         Quote(*s)));
          } else {
            server->metrics_path = *s;
          }
        }
      }
    }
    if (!token_file_set) {
      server->token_file =
          StrCat(server->state_dir == "/" ? "" : server->state_dir, "/token");
    }
    // The slow tier and the history are made of sampler ticks.
    const Position at =
        sample_node != nullptr ? sample_node->position : node.position;
    if (server->slow_interval < server->sample_interval) {
      const YamlNode* slow = node.Find("slow_interval");
      Error(slow != nullptr ? slow->position : at,
            StrCat("server.slow_interval (",
                   absl::FormatDuration(server->slow_interval),
                   ") must not be shorter than server.sample_interval (",
                   absl::FormatDuration(server->sample_interval), ")"));
    }
    if (server->history < server->sample_interval) {
      const YamlNode* history = node.Find("history");
      Error(history != nullptr ? history->position : at,
            StrCat("server.history (", absl::FormatDuration(server->history),
                   ") must not be shorter than server.sample_interval (",
                   absl::FormatDuration(server->sample_interval), ")"));
    } else if (server->history / server->sample_interval > 1000000) {
      const YamlNode* history = node.Find("history");
      Error(history != nullptr ? history->position : at,
            StrCat("server.history holds at most 1000000 samples; ",
                   absl::FormatDuration(server->history), " at ",
                   absl::FormatDuration(server->sample_interval), " is ",
                   static_cast<int64_t>(server->history /
                                        server->sample_interval)));
    }
  }

  void ParseThrottle(const YamlNode& node, ThrottleConfig* t) {
    if (!ExpectMap(node, "server.throttle")) {
      return;
    }
    CheckKeys(node, Keys(kThrottleKeys), "server.throttle");
    const YamlNode* max_node = nullptr;
    for (const auto& [key, value] : node.entries) {
      if (!key.IsScalar() || value.IsNull()) {
        continue;
      }
      const std::string what = StrCat("server.throttle.", key.scalar);
      // kern.racct.rctl.throttle_*: min >= 1, max >= min, pct and pct2 >= 0
      // (sysctl handlers in sys/kern/kern_rctl.c; freebsd-rctl.md §10).
      constexpr int64_t kMaxU = 2147483647;
      if (key.scalar == "min") {
        if (auto v = GetInt(value, what, 1, kMaxU)) t->min = *v;
      } else if (key.scalar == "max") {
        max_node = &value;
        if (auto v = GetInt(value, what, 1, kMaxU)) t->max = *v;
      } else if (key.scalar == "pct") {
        if (auto v = GetInt(value, what, 0, kMaxU)) t->pct = *v;
      } else if (key.scalar == "pct2") {
        if (auto v = GetInt(value, what, 0, kMaxU)) t->pct2 = *v;
      }
    }
    if (t->max < t->min) {
      Error(max_node != nullptr ? max_node->position : node.position,
            StrCat("server.throttle.max (", t->max,
                   ") must not be less than server.throttle.min (", t->min,
                   "), as kern.racct.rctl.throttle_max requires"));
    }
  }

  // ---- templates: ----

  void ParseTemplates(const YamlNode& node, Policy& policy) {
    if (node.IsNull()) {
      return;
    }
    if (!ExpectMap(node, "templates")) {
      return;
    }
    CheckKeys(node, {}, "templates");  // duplicates and non-scalar keys only
    const std::vector<std::string_view> keys = JailKeys();
    const std::string expected =
        StrCat(Join(std::vector<std::string_view>(std::begin(kCoreJailKeys),
                                                  std::end(kCoreJailKeys)),
                    ", "),
               ", or a jail(8) parameter listed in docs/policy.md");
    for (const auto& [key, value] : node.entries) {
      if (!key.IsScalar() || templates_.count(key.scalar) != 0) {
        continue;
      }
      if (std::optional<std::string> p = JailNameProblem(key.scalar)) {
        Error(key.position,
              StrCat("template name ", Quote(key.scalar), ": ", *p));
      }
      TemplateState& t = templates_[key.scalar];
      t.node = &value;
      t.position = key.position;
      template_order_.push_back(key.scalar);
      if (value.IsMap()) {
        CheckKeys(value, keys, StrCat("template ", Quote(key.scalar)),
                  expected);
      } else if (!value.IsNull()) {
        Error(value.position, StrCat("template ", Quote(key.scalar),
                                     ": expected a map, got ", Found(value)));
        t.state = TemplateState::kBad;
      }
    }
    for (const std::string& name : template_order_) {
      std::vector<std::string> stack;
      Resolve(name, stack);
    }
    for (const std::string& name : template_order_) {
      TemplateState& t = templates_[name];
      if (t.state != TemplateState::kDone) {
        continue;
      }
      TemplatePolicy tp;
      tp.name = name;
      tp.position = t.position;
      if (const YamlNode* parent = t.node->Find("template");
          parent != nullptr && parent->IsScalar()) {
        tp.parent = parent->scalar;
      }
      JailExtras extras;
      tp.resolved = ReadJail(name, t.merged, t.position, /*is_template=*/true,
                             policy.server, &extras);
      policy.templates.push_back(std::move(tp));
    }
  }

  // Reads a `template:` reference. Returns the referenced state, or nullptr
  // after reporting.
  TemplateState* Reference(const YamlNode& ref, std::string_view context) {
    if (!ref.IsScalar()) {
      ErrorOnce(ref.position,
                StrCat("template in ", context,
                       ": expected a template name, got ", Found(ref)),
                nullptr);
      return nullptr;
    }
    auto it = templates_.find(ref.scalar);
    if (it == templates_.end()) {
      std::vector<std::string_view> names(template_order_.begin(),
                                          template_order_.end());
      ErrorOnce(ref.position,
                StrCat("unknown template ", Quote(ref.scalar), " in ", context,
                       names.empty() ? "; no templates are defined"
                                     : StrCat("; defined templates: ",
                                              Join(names, ", "))),
                nullptr);
      return nullptr;
    }
    return &it->second;
  }

  // Applies inheritance to template `name`. `stack` holds the templates
  // being resolved, to name a cycle.
  void Resolve(const std::string& name, std::vector<std::string>& stack) {
    TemplateState& t = templates_[name];
    if (t.state != TemplateState::kUnvisited) {
      return;
    }
    t.state = TemplateState::kVisiting;
    stack.push_back(name);
    YamlNode base;
    base.kind = YamlNode::Kind::kMap;
    bool ok = true;
    if (const YamlNode* ref =
            t.node->IsMap() ? t.node->Find("template") : nullptr;
        ref != nullptr && !ref->IsNull()) {
      TemplateState* parent = Reference(*ref, StrCat("template ", Quote(name)));
      if (parent == nullptr) {
        ok = false;
      } else if (parent->state == TemplateState::kVisiting) {
        std::vector<std::string_view> cycle;
        auto from = std::find(stack.begin(), stack.end(), ref->scalar);
        cycle.assign(from, stack.end());
        cycle.push_back(ref->scalar);
        ErrorOnce(ref->position,
                  StrCat("template cycle: ", Join(cycle, " -> ")), nullptr);
        ok = false;
      } else {
        Resolve(ref->scalar, stack);
        if (parent->state != TemplateState::kDone) {
          ok = false;
        } else {
          base = parent->merged;
        }
      }
    }
    stack.pop_back();
    if (!ok) {
      t.state = TemplateState::kBad;
      return;
    }
    t.merged = t.node->IsMap() ? Merge(base, *t.node) : base;
    t.state = TemplateState::kDone;
  }

  static YamlNode Merge(const YamlNode& base, const YamlNode& over) {
    if (!base.IsMap() || !over.IsMap()) {
      return over;
    }
    YamlNode out = base;
    out.position = over.position;
    for (const auto& [key, value] : over.entries) {
      if (!key.IsScalar() || key.scalar == "template") {
        continue;
      }
      auto it = std::find_if(
          out.entries.begin(), out.entries.end(), [&](const auto& e) {
            return e.first.IsScalar() && e.first.scalar == key.scalar;
          });
      if (value.IsNull()) {
        if (it != out.entries.end()) {
          out.entries.erase(it);
        }
        continue;
      }
      if (it == out.entries.end()) {
        out.entries.emplace_back(key, value);
      } else if (it->second.IsMap() && value.IsMap()) {
        it->second = Merge(it->second, value);
        it->first = key;
      } else {
        *it = {key, value};
      }
    }
    return out;
  }

  // ---- jails: ----

  void ParseJails(const YamlNode& node, Policy& policy) {
    if (node.IsNull()) {
      return;
    }
    if (!ExpectMap(node, "jails")) {
      return;
    }
    CheckKeys(node, {}, "jails");
    const std::vector<std::string_view> keys = JailKeys();
    const std::string expected =
        StrCat(Join(std::vector<std::string_view>(std::begin(kCoreJailKeys),
                                                  std::end(kCoreJailKeys)),
                    ", "),
               ", or a jail(8) parameter listed in docs/policy.md");
    std::set<std::string> names;
    std::vector<JailExtras> extras;
    for (const auto& [key, value] : node.entries) {
      if (!key.IsScalar() || !names.insert(key.scalar).second) {
        continue;
      }
      const std::string context = StrCat("jail ", Quote(key.scalar));
      bool name_ok = true;
      if (std::optional<std::string> p = JailNameProblem(key.scalar)) {
        Error(key.position, StrCat("jail name ", Quote(key.scalar), ": ", *p));
        name_ok = false;
      }
      if (!value.IsMap()) {
        Error(value.position,
              StrCat(context, ": expected a map of jail parameters, got ",
                     Found(value)));
        continue;
      }
      CheckKeys(value, keys, context, expected);
      YamlNode base;
      base.kind = YamlNode::Kind::kMap;
      std::string template_name;
      if (const YamlNode* ref = value.Find("template");
          ref != nullptr && !ref->IsNull()) {
        TemplateState* t = Reference(*ref, context);
        if (t == nullptr || t->state != TemplateState::kDone) {
          continue;  // reported at the reference or in the template
        }
        base = t->merged;
        template_name = ref->scalar;
      }
      if (!name_ok) {
        continue;
      }
      JailExtras x;
      JailPolicy jail = ReadJail(key.scalar, Merge(base, value), key.position,
                                 /*is_template=*/false, policy.server, &x);
      jail.template_name = template_name;
      policy.jails.push_back(std::move(jail));
      extras.push_back(std::move(x));
    }
    CheckDepend(policy, extras);
    for (std::size_t i = 0; i < policy.jails.size(); ++i) {
      limit_positions_.push_back(extras[i].limit_positions);
    }
  }

  // `depend` names defined jails, and no cycles.
  void CheckDepend(const Policy& policy,
                   const std::vector<JailExtras>& extras) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < policy.jails.size(); ++i) {
      index[policy.jails[i].name] = i;
    }
    for (std::size_t i = 0; i < policy.jails.size(); ++i) {
      for (const auto& [dep, pos] : extras[i].depend) {
        if (index.count(dep) == 0) {
          ErrorOnce(pos,
                    StrCat("depend in jail ", Quote(policy.jails[i].name),
                           ": no jail named ", Quote(dep), " in this policy"),
                    nullptr);
        }
      }
    }
    // Depth-first search; a back edge closes a cycle, reported at the
    // `depend` entry that closes it.
    std::vector<int> state(policy.jails.size(), 0);  // 0 new, 1 open, 2 done
    std::vector<std::size_t> stack;
    std::function<void(std::size_t)> visit = [&](std::size_t i) {
      state[i] = 1;
      stack.push_back(i);
      for (const auto& [dep, pos] : extras[i].depend) {
        auto it = index.find(dep);
        if (it == index.end()) {
          continue;
        }
        const std::size_t j = it->second;
        if (state[j] == 1) {
          std::vector<std::string_view> cycle;
          auto from = std::find(stack.begin(), stack.end(), j);
          for (auto k = from; k != stack.end(); ++k) {
            cycle.push_back(policy.jails[*k].name);
          }
          cycle.push_back(policy.jails[j].name);
          ErrorOnce(pos, StrCat("dependency cycle: ", Join(cycle, " -> ")),
                    nullptr);
        } else if (state[j] == 0) {
          visit(j);
        }
      }
      stack.pop_back();
      state[i] = 2;
    };
    for (std::size_t i = 0; i < policy.jails.size(); ++i) {
      if (state[i] == 0) {
        visit(i);
      }
    }
  }

  // Reads one jail (or a template as a jail of its own name) from its
  // merged map.
  JailPolicy ReadJail(const std::string& name, const YamlNode& map,
                      Position position, bool is_template,
                      const ServerConfig& server, JailExtras* x) {
    JailPolicy jail;
    jail.name = name;
    jail.position = position;
    platform::JailSpec& spec = jail.spec;
    spec.name = name;
    const std::string context =
        StrCat(is_template ? "template " : "jail ", Quote(name));
    std::string ip4_mode, ip6_mode;
    const YamlNode* ip4_mode_node = nullptr;
    const YamlNode* ip6_mode_node = nullptr;
    const YamlNode* host_ip4_node = nullptr;
    const YamlNode* ip4_addr_node = nullptr;
    const YamlNode* ip6_addr_node = nullptr;
    bool vnet = false;
    bool has_path = false;
    for (const auto& [key, value] : map.entries) {
      if (!key.IsScalar() || value.IsNull()) {
        continue;
      }
      const std::string& k = key.scalar;
      const std::string what = StrCat(Quote(k), " in ", context);
      if (k == "template") {
        continue;
      } else if (k == "path") {
        if (auto p = GetAbsolutePath(value, what, x)) {
          spec.path = *p;
          has_path = true;
        }
      } else if (k == "base") {
        if (auto p = GetAbsolutePath(value, what, x)) {
          spec.base_root = *p;
        }
      } else if (k == "host.hostname") {
        if (auto s = GetString(value, what, x)) {
          if (s->empty() || s->size() > 255 ||
              s->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                  std::string::npos) {
            ErrorOnce(value.position,
                      StrCat(what,
                             ": expected a host name of 1 to 255 "
                             "letters, digits, '-' and '.', got ",
                             Quote(*s)),
                      x);
          } else {
            spec.hostname = *s;
          }
        }
      } else if (k == "ip4" || k == "ip6") {
        if (auto s = GetString(value, what, x)) {
          if (*s != "inherit" && *s != "new" && *s != "disable") {
            ErrorOnce(value.position,
                      StrCat(what, ": expected inherit, new or disable, got ",
                             Quote(*s)),
                      x);
          } else if (k == "ip4") {
            ip4_mode = *s;
            ip4_mode_node = &value;
          } else {
            ip6_mode = *s;
            ip6_mode_node = &value;
          }
        }
      } else if (k == "ip4.addr" || k == "ip6.addr") {
        const bool v4 = k == "ip4.addr";
        (v4 ? ip4_addr_node : ip6_addr_node) = &value;
        if (auto list = GetStringList(value, what, x)) {
          for (const auto& [addr, pos] : *list) {
            if (!ValidIp(addr, v4 ? AF_INET : AF_INET6, true)) {
              ErrorOnce(pos,
                        StrCat(what, ": ", Quote(addr), " is not an IPv",
                               v4 ? "4" : "6", " address (ADDRESS[/PREFIX])"),
                        x);
            } else {
              (v4 ? spec.network.ip4_addresses : spec.network.ip6_addresses)
                  .push_back(addr);
            }
          }
        }
      } else if (k == "interface") {
        if (auto s = GetString(value, what, x)) {
          spec.network.interface = *s;
        }
      } else if (k == "vnet") {
        // jail(8) writes vnet=new|inherit; a boolean reads better in YAML.
        if (value.IsScalar() &&
            (value.scalar == "new" || value.scalar == "inherit")) {
          vnet = value.scalar == "new";
        } else if (auto b = GetBool(value, what, x)) {
          vnet = *b;
        }
      } else if (k == "vnet.interface") {
        if (auto s = GetString(value, what, x)) {
          spec.parameters["vnet.interface"] = *s;
        }
      } else if (k == "vnet.host_ip4") {
        host_ip4_node = &value;
        if (auto s = GetString(value, what, x)) {
          if (!ValidIp(*s, AF_INET, true)) {
            ErrorOnce(value.position,
                      StrCat(what, ": ", Quote(*s),
                             " is not an IPv4 address (ADDRESS[/PREFIX])"),
                      x);
          } else {
            spec.network.host_ip4 = *s;
          }
        }
      } else if (k == "mount") {
        ReadMounts(value, what, context, &spec.mounts, x);
      } else if (k == "copy") {
        ReadCopies(value, what, context, &spec.copies, x);
      } else if (k == "exec.clean") {
        if (auto b = GetBool(value, what, x)) {
          spec.exec.clean = *b;
        }
      } else if (k == "exec.timeout") {
        if (auto d = GetDuration(value, what, absl::ZeroDuration(),
                                 absl::Hours(24 * 365), true, x)) {
          spec.exec.timeout = *d;
        }
      } else if (k == "stop.timeout") {
        if (auto d = GetDuration(value, what, absl::ZeroDuration(),
                                 absl::Hours(24), true, x)) {
          spec.stop_timeout = *d;
        }
      } else if (k == "persist") {
        if (auto b = GetBool(value, what, x)) {
          spec.persist = *b;
        }
      } else if (k == "depend") {
        if (auto list = GetStringList(value, what, x)) {
          for (const auto& [dep, pos] : *list) {
            if (dep == name) {
              ErrorOnce(pos, StrCat(what, ": a jail cannot depend on itself"),
                        x);
              continue;
            }
            if (std::find(spec.depend.begin(), spec.depend.end(), dep) !=
                spec.depend.end()) {
              ErrorOnce(pos, StrCat(what, ": ", Quote(dep), " is listed twice"),
                        x);
              continue;
            }
            spec.depend.push_back(dep);
            x->depend.emplace_back(dep, pos);
          }
        }
      } else if (k == "limits") {
        ReadLimits(value, name, context, &jail, x);
      } else if (const ExecKey* e = FindExec(k)) {
        if (auto list = GetStringList(value, what, x)) {
          platform::CommandList& commands = spec.exec.*(e->member);
          for (const auto& [command, pos] : *list) {
            if (StripWhitespace(command).empty()) {
              ErrorOnce(pos, StrCat(what, ": empty command"), x);
            } else {
              commands.push_back(command);
            }
          }
        }
      } else if (const ParamDef* p = FindParam(k)) {
        ReadParameter(*p, value, what, &spec.parameters, x);
      }
      // Anything else was reported by CheckKeys on the map it came from.
    }

    // Networking: vnet wins; addresses or ip4/ip6=new|disable mean an own
    // address set; otherwise the host's stack is shared.
    if (ip4_mode == "inherit" && ip4_addr_node != nullptr &&
        !spec.network.ip4_addresses.empty()) {
      ErrorOnce(
          ip4_addr_node->position,
          StrCat("'ip4.addr' in ", context,
                 " conflicts with ip4: inherit (addresses imply ip4: new)"),
          x);
    }
    if (ip6_mode == "inherit" && ip6_addr_node != nullptr &&
        !spec.network.ip6_addresses.empty()) {
      ErrorOnce(
          ip6_addr_node->position,
          StrCat("'ip6.addr' in ", context,
                 " conflicts with ip6: inherit (addresses imply ip6: new)"),
          x);
    }
    (void)ip4_mode_node;
    (void)ip6_mode_node;
    if (ip4_mode == "disable") {
      spec.parameters["ip4"] = "disable";
    }
    if (ip6_mode == "disable") {
      spec.parameters["ip6"] = "disable";
    }
    if (vnet) {
      spec.network.mode = platform::NetworkMode::kVnet;
    } else if (ip4_mode == "new" || ip4_mode == "disable" ||
               ip6_mode == "new" || ip6_mode == "disable" ||
               !spec.network.ip4_addresses.empty() ||
               !spec.network.ip6_addresses.empty()) {
      spec.network.mode = platform::NetworkMode::kNew;
    }
    if (!vnet && host_ip4_node != nullptr) {
      ErrorOnce(host_ip4_node->position,
                StrCat("'vnet.host_ip4' in ", context,
                       " needs vnet: true (it addresses the host end of the "
                       "jail's virtual link)"),
                x);
    }
    if (!has_path) {
      spec.path = StrCat(server.state_dir == "/" ? "" : server.state_dir,
                         "/roots/", name);
      jail.path_defaulted = true;
    }
    if (!is_template && !x->has_errors && spec.exec.start.empty() &&
        !spec.persist) {
      // jail(8): "A new jail needs persist, exec.start or command".
      ErrorOnce(position,
                StrCat(context,
                       " has nothing to keep it alive: set exec.start or "
                       "persist: true (jail(8) refuses to create it)"),
                x);
    }
    return jail;
  }

  static const ExecKey* FindExec(std::string_view key) {
    for (const ExecKey& e : kExecKeys) {
      if (e.key == key) {
        return &e;
      }
    }
    return nullptr;
  }

  void ReadParameter(const ParamDef& p, const YamlNode& value,
                     const std::string& what,
                     std::map<std::string, std::string>* out, JailExtras* x) {
    switch (p.type) {
      case ParamType::kBool:
        if (auto b = GetBool(value, what, x)) {
          (*out)[std::string(p.key)] = *b ? "true" : "false";
        }
        return;
      case ParamType::kInt:
        if (auto v = GetInt(value, what, p.min, p.max, x)) {
          (*out)[std::string(p.key)] = StrCat(*v);
        }
        return;
      case ParamType::kString:
        if (auto s = GetString(value, what, x)) {
          (*out)[std::string(p.key)] = *s;
        }
        return;
      case ParamType::kPath:
        if (auto s = GetAbsolutePath(value, what, x)) {
          (*out)[std::string(p.key)] = *s;
        }
        return;
      case ParamType::kTriState:
        if (auto s = GetString(value, what, x)) {
          if (*s != "inherit" && *s != "new" && *s != "disable") {
            ErrorOnce(value.position,
                      StrCat(what, ": expected inherit, new or disable, got ",
                             Quote(*s)),
                      x);
          } else {
            (*out)[std::string(p.key)] = *s;
          }
        }
        return;
    }
  }

  void ReadMounts(const YamlNode& value, const std::string& what,
                  const std::string& context,
                  std::vector<platform::MountSpec>* out, JailExtras* x) {
    if (!value.IsSequence()) {
      ErrorOnce(value.position,
                StrCat(what,
                       ": expected a list of {source, target, fstype, "
                       "read_only, options}, got ",
                       Found(value)),
                x);
      return;
    }
    for (const YamlNode& item : value.items) {
      const std::string entry = StrCat("mount entry in ", context);
      if (!ExpectMap(item, entry, x)) {
        continue;
      }
      CheckKeys(item, Keys(kMountKeys), entry);
      platform::MountSpec m;
      bool ok = true;
      const YamlNode* source = nullptr;
      for (const auto& [k, v] : item.entries) {
        if (!k.IsScalar() || v.IsNull()) {
          continue;
        }
        const std::string w = StrCat(Quote(k.scalar), " in ", entry);
        if (k.scalar == "source") {
          source = &v;
          if (auto s = GetString(v, w, x))
            m.source = *s;
          else
            ok = false;
        } else if (k.scalar == "target") {
          if (auto s = GetAbsolutePath(v, w, x))
            m.target = *s;
          else
            ok = false;
        } else if (k.scalar == "fstype") {
          if (auto s = GetString(v, w, x)) {
            if (std::find(std::begin(kMountTypes), std::end(kMountTypes), *s) ==
                std::end(kMountTypes)) {
              ErrorOnce(v.position,
                        StrCat(w,
                               ": expected one of nullfs, tmpfs, devfs, "
                               "procfs, fdescfs, got ",
                               Quote(*s)),
                        x);
              ok = false;
            } else {
              m.fstype = *s;
            }
          } else {
            ok = false;
          }
        } else if (k.scalar == "read_only") {
          if (auto b = GetBool(v, w, x))
            m.read_only = *b;
          else
            ok = false;
        } else if (k.scalar == "options") {
          if (auto s = GetString(v, w, x))
            m.options = *s;
          else
            ok = false;
        }
      }
      if (!ok) {
        continue;
      }
      if (item.Find("target") == nullptr) {
        ErrorOnce(item.position, StrCat(entry, ": 'target' is required"), x);
        continue;
      }
      if (m.fstype == "nullfs") {
        if (source == nullptr) {
          ErrorOnce(item.position,
                    StrCat(entry, ": 'source' is required for nullfs"), x);
          continue;
        }
        if (!StartsWith(m.source, "/")) {
          ErrorOnce(
              source->position,
              StrCat("'source' in ", entry,
                     ": expected an absolute host path, got ", Quote(m.source)),
              x);
          continue;
        }
      } else if (m.source.empty()) {
        m.source = m.fstype;
      }
      out->push_back(std::move(m));
    }
  }

  void ReadCopies(const YamlNode& value, const std::string& what,
                  const std::string& context,
                  std::vector<platform::CopySpec>* out, JailExtras* x) {
    if (!value.IsSequence()) {
      ErrorOnce(value.position,
                StrCat(what, ": expected a list of {source, target}, got ",
                       Found(value)),
                x);
      return;
    }
    for (const YamlNode& item : value.items) {
      const std::string entry = StrCat("copy entry in ", context);
      if (!ExpectMap(item, entry, x)) {
        continue;
      }
      CheckKeys(item, Keys(kCopyKeys), entry);
      platform::CopySpec c;
      bool ok = true;
      for (std::string_view field : kCopyKeys) {
        const YamlNode* v = item.Find(field);
        if (v == nullptr || v->IsNull()) {
          ErrorOnce(item.position,
                    StrCat(entry, ": ", Quote(field), " is required"), x);
          ok = false;
          continue;
        }
        auto p = GetAbsolutePath(*v, StrCat(Quote(field), " in ", entry), x);
        if (!p.has_value()) {
          ok = false;
        } else if (field == "source") {
          c.source = *p;
        } else {
          c.target = *p;
        }
      }
      if (ok) {
        out->push_back(std::move(c));
      }
    }
  }

  // `limits:` — resource: action=amount[/per], or a list of those. Each
  // becomes "jail:<name>:<resource>:<entry>" and goes through rctl(8)'s
  // expansion and rctl_add_rule(2)'s checks, so errors read as rctl's.
  void ReadLimits(const YamlNode& value, const std::string& jail_name,
                  const std::string& context, JailPolicy* jail, JailExtras* x) {
    const std::string what = StrCat("'limits' in ", context);
    if (!ExpectMap(value, what, x)) {
      return;
    }
    std::map<std::string, Position> seen_keys;
    std::map<std::string, Position> seen_rules;
    for (const auto& [key, entries] : value.entries) {
      if (!key.IsScalar()) {
        ErrorOnce(key.position,
                  StrCat(what, ": expected a resource name, got ", Found(key)),
                  x);
        continue;
      }
      const std::optional<rctl::Resource> resource =
          rctl::ParseResourceName(key.scalar);
      if (!resource.has_value()) {
        std::vector<std::string_view> names;
        for (const rctl::ResourceInfo& info : rctl::ResourceTable()) {
          names.push_back(info.name);
        }
        const std::string s = Suggest(key.scalar, names);
        ErrorOnce(
            key.position,
            StrCat("unknown resource ", Quote(key.scalar), " in ", what,
                   s.empty() ? StrCat("; expected one of: ", Join(names, ", "))
                             : StrCat("; did you mean ", Quote(s), "?")),
            x);
        continue;
      }
      const std::string canonical(rctl::ResourceName(*resource));
      if (auto [it, inserted] = seen_keys.emplace(canonical, key.position);
          !inserted) {
        ErrorOnce(key.position,
                  StrCat("duplicate resource ", Quote(key.scalar), " in ", what,
                         " (first at ", PosText(it->second),
                         "); give several actions as a list"),
                  x);
        continue;
      }
      if (entries.IsNull()) {
        continue;  // removes an inherited limit
      }
      std::vector<const YamlNode*> items;
      if (entries.IsSequence()) {
        for (const YamlNode& item : entries.items) {
          items.push_back(&item);
        }
      } else {
        items.push_back(&entries);
      }
      for (const YamlNode* item : items) {
        if (!item->IsScalar() || item->scalar.find('=') == std::string::npos) {
          ErrorOnce(item->position,
                    StrCat(canonical, " in ", what,
                           ": expected action=amount[/per] such as deny=512M "
                           "or a list of those, got ",
                           Found(*item)),
                    x);
          continue;
        }
        const std::string arg = StrCat("jail:", jail_name, ":", key.scalar, ":",
                                       StripWhitespace(item->scalar));
        absl::StatusOr<rctl::Rule> rule =
            KernelRule(arg, false, item->position, x);
        if (!rule.ok()) {
          continue;
        }
        const std::string dedupe = RuleKey(*rule);
        if (auto [it, inserted] = seen_rules.emplace(dedupe, item->position);
            !inserted) {
          ErrorOnce(item->position,
                    rule->action == rctl::Action::kDeny
                        ? StrCat("duplicate limit ", Quote(arg),
                                 ": a deny for ", canonical,
                                 " is already given at ", PosText(it->second),
                                 " and the kernel keeps only the last one")
                        : StrCat("duplicate limit ", Quote(arg),
                                 ": the same rule is already given at ",
                                 PosText(it->second)),
                    x);
          continue;
        }
        jail->limits.push_back(*rule);
        jail->limit_texts.push_back(arg);
        x->limit_positions.push_back(item->position);
      }
    }
  }

  // rctl -a ARG without the syscall: rctl(8)'s expand_rule, then what
  // rctl_add_rule(2) checks. Reports in rctl(8)'s words.
  absl::StatusOr<rctl::Rule> KernelRule(const std::string& arg,
                                        bool resolve_names, Position pos,
                                        JailExtras* x) {
    absl::StatusOr<std::string> text =
        rctl::ExpandRule(arg, {resolve_names, options_.resolver});
    if (!text.ok()) {
      ErrorOnce(pos,
                StrCat("malformed rule ", Quote(arg), ": ",
                       ToStd(text.status().message())),
                x);
      return text.status();
    }
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(*text);
    if (!rule.ok()) {
      const std::optional<int> e = StatusErrno(rule.status());
      ErrorOnce(pos,
                StrCat("failed to add rule ", Quote(arg), ": ",
                       e.has_value() ? FreeBsdStrerror(*e)
                                     : ToStd(rule.status().message())),
                x);
      return rule.status();
    }
    return rule;
  }

  // Two rules with the same key cannot both live in the kernel's rule
  // list: a deny replaces a deny that differs only in amount; any other
  // action replaces an identical rule (rctl_rule_add, §6.6).
  static std::string RuleKey(const rctl::Rule& r) {
    std::string key =
        StrCat(static_cast<int>(r.subject), ":", r.subject_id, ":",
               static_cast<int>(rctl::Index(*r.resource)), ":",
               static_cast<int>(r.action), "/", static_cast<int>(r.per));
    if (r.action != rctl::Action::kDeny) {
      StrAppend(&key, "=", r.amount);
    }
    return key;
  }

  // ---- rules: ----

  void ParseRules(const YamlNode& node, Policy& policy) {
    if (node.IsNull()) {
      return;
    }
    if (!node.IsSequence()) {
      Error(node.position,
            StrCat("rules: expected a list of rctl rules such as "
                   "\"user:1001:maxproc:deny=100\", got ",
                   Found(node)));
      return;
    }
    for (const YamlNode& item : node.items) {
      if (!item.IsScalar()) {
        Error(item.position,
              StrCat("rules: expected a rule string "
                     "subject:subject-id:resource:action=amount[/per], got ",
                     Found(item)));
        continue;
      }
      const std::string arg(StripWhitespace(item.scalar));
      absl::StatusOr<rctl::Rule> rule =
          KernelRule(arg, true, item.position, nullptr);
      if (!rule.ok()) {
        continue;
      }
      if (rule->subject == rctl::SubjectType::kProcess) {
        Error(item.position,
              StrCat("rule ", Quote(arg),
                     ": process rules cannot be part of a policy (a pid does "
                     "not survive a restart); use a jail, user or loginclass "
                     "subject with /process"));
        continue;
      }
      policy.rules.push_back(*rule);
      policy.rule_texts.push_back(arg);
      rule_positions_.push_back(item.position);
    }
  }

  // Jail limits and raw rules end up in one kernel rule list; a rule that
  // would silently replace another is a mistake in the file.
  void CheckRuleConflicts(const Policy& policy) {
    std::map<std::string, std::pair<Position, std::string>> seen;
    for (std::size_t j = 0; j < policy.jails.size(); ++j) {
      const JailPolicy& jail = policy.jails[j];
      for (std::size_t i = 0; i < jail.limits.size(); ++i) {
        seen.emplace(RuleKey(jail.limits[i]),
                     std::pair(limit_positions_[j][i], jail.limit_texts[i]));
      }
    }
    for (std::size_t i = 0; i < policy.rules.size(); ++i) {
      const rctl::Rule& r = policy.rules[i];
      auto [it, inserted] = seen.emplace(
          RuleKey(r), std::pair(rule_positions_[i], policy.rule_texts[i]));
      if (inserted) {
        continue;
      }
      Error(rule_positions_[i],
            StrCat("rule ", Quote(policy.rule_texts[i]),
                   r.action == rctl::Action::kDeny ? " replaces " : " repeats ",
                   Quote(it->second.second), " given at ",
                   PosText(it->second.first),
                   " (the kernel keeps one); set it in one place"));
    }
  }

  std::string filename_;
  LoadOptions options_;
  std::vector<PolicyError> errors_;
  std::set<std::pair<int, int>> reported_positions_;
  std::map<std::string, TemplateState> templates_;
  std::vector<std::string> template_order_;
  std::vector<std::vector<Position>> limit_positions_;  // per policy jail
  std::vector<Position> rule_positions_;                // per policy rule
};

}  // namespace

namespace internal {

Policy ParsePolicy(std::string_view text, std::string_view filename,
                   const LoadOptions& options,
                   std::vector<PolicyError>* errors) {
  Loader loader(filename, options);
  Policy policy = loader.Run(text);
  *errors = loader.TakeErrors();
  return policy;
}

}  // namespace internal

std::optional<std::string> JailNameProblem(std::string_view name) {
  if (name.empty()) {
    return "must not be empty";
  }
  if (name.size() > 255) {
    return StrCat("is ", name.size(),
                  " characters long; jail(8) allows at most 255");
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

}  // namespace jailwarden::policy
