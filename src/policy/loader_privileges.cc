// internal::Loader: a jail's privileges: linux.capabilities, the checks the
// Linux backend makes of the privilege keys when it makes the jail (so
// `validate` accepts exactly what `apply` can start), and the warnings for
// every key that relaxes isolation (docs/security.md,
// docs/linux-privileges.md).

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/checks.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/capabilities.h"
#endif
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {
namespace {

// allow.* keys that hand a jail's root a capability (or a host-wide
// power) it does not have by default, and what that means.
struct Relaxing {
  std::string_view key;
  std::string_view why;
};
constexpr Relaxing kRelaxingAllows[] = {
    {"allow.mount",
     "grants CAP_SYS_ADMIN, which is root-equivalent on Linux (the jail's "
     "root can mount the host's disks and escape)"},
    {"allow.raw_sockets",
     "grants CAP_NET_RAW (raw packets on the host's network with ip4: "
     "inherit)"},
    {"allow.routing",
     "grants CAP_NET_ADMIN (with ip4: inherit, all of the host's network "
     "configuration)"},
    {"allow.settime", "grants CAP_SYS_TIME (sets the host's clock)"},
    {"allow.adjtime", "grants CAP_SYS_TIME (sets the host's clock)"},
    {"allow.mlock",
     "grants CAP_IPC_LOCK (the jail's memorylocked limit no longer holds)"},
    {"allow.read_msgbuf", "grants CAP_SYSLOG (reads the host's kernel log)"},
    {"allow.chflags",
     "grants CAP_LINUX_IMMUTABLE (immutable files the host's root must "
     "clear before removing the jail)"},
};

bool IsLoopbackListen(std::string_view listen) {
  return StartsWith(listen, "127.") || StartsWith(listen, "[::1]:") ||
         StartsWith(listen, "localhost:");
}

}  // namespace

void Loader::Warn(Position p, std::string message) {
  if (!warned_positions_.insert({p.line, p.column}).second) {
    return;
  }
  warnings_.push_back(
      {filename_, p.line, p.column, StrCat("warning: ", message)});
}

void Loader::ReadCapabilities(const YamlNode& value, const std::string& what,
                              std::map<std::string, std::string>* out,
                              JailExtras* x) {
  std::optional<std::vector<std::pair<std::string, Position>>> list =
      GetStringList(value, what, x);
  if (!list.has_value()) {
    return;
  }
  // A scalar may itself hold "a, b c"; split it so each name is judged.
  std::vector<std::string> names;
  bool bad = false;
  int item = 0;
  for (const auto& [text, pos] : *list) {
    for (std::string_view part : Split(text, ',')) {
      for (std::string_view name : Split(part, ' ')) {
        name = StripWhitespace(name);
        if (name.empty()) {
          continue;
        }
        ++item;
        if (AsciiToLower(name) == "all") {
          if (list->size() != 1 || item != 1) {
            ErrorOnce(pos, StrCat(what, ": 'all' must stand alone"), x);
            bad = true;
          }
          names.emplace_back("all");
          continue;
        }
        if (std::optional<std::string> p = CapabilityNameProblem(name)) {
          ErrorOnce(pos, StrCat(what, ": ", *p, " (item ", item, ")"), x);
          bad = true;
          continue;
        }
        names.emplace_back(name);
      }
    }
  }
  if (!bad) {
    (*out)["linux.capabilities"] = Join(names, ",");
  }
}

void Loader::WarnIfRelaxing(const std::string& key, const YamlNode& value,
                            const std::string& what) {
  for (const Relaxing& r : kRelaxingAllows) {
    if (key == r.key && value.IsScalar() &&
        (AsciiToLower(value.scalar) == "true" ||
         AsciiToLower(value.scalar) == "yes" ||
         AsciiToLower(value.scalar) == "on")) {
      Warn(value.position, StrCat(what, " relaxes isolation: ", r.why));
      return;
    }
  }
  if (key == "linux.capabilities") {
    std::vector<std::string> names;
    if (value.IsScalar()) {
      names.push_back(value.scalar);
    } else if (value.IsSequence()) {
      for (const YamlNode& item : value.items) {
        if (item.IsScalar()) {
          names.push_back(item.scalar);
        }
      }
    }
    const std::string joined = Join(names, ", ");
    if (StripWhitespace(joined).empty()) {
      return;
    }
    if (AsciiToLower(StripWhitespace(joined)) == "all") {
      Warn(value.position,
           StrCat(what, " relaxes isolation: nothing is dropped, the jail's "
                        "root keeps every capability of the host's root"));
    } else {
      Warn(value.position,
           StrCat(what, " relaxes isolation: the jail's root keeps ", joined,
                  " beyond what allow.* grants"));
    }
    return;
  }
  if (key == "linux.seccomp" && value.IsMap()) {
    const YamlNode* allow = value.Find("allow");
    if (allow == nullptr || allow->IsNull()) {
      return;
    }
    std::vector<std::string> names;
    if (allow->IsScalar()) {
      names.push_back(allow->scalar);
    }
    for (const YamlNode& item : allow->items) {
      if (item.IsScalar()) {
        names.push_back(item.scalar);
      }
    }
    if (!names.empty()) {
      Warn(allow->position,
           StrCat(what, " relaxes isolation: allows ", Join(names, ", "),
                  ", which the default seccomp filter refuses"));
    }
  }
}

void Loader::CheckPrivileges(const JailPolicy& jail, Position position,
                             const std::string& context, bool is_template,
                             const ServerConfig& server, JailExtras* x) {
  if (x->has_errors) {
    return;
  }
#if defined(__linux__)
  // What the Linux backend checks when it makes the jail; a policy that
  // passes here does not fail half-way in `apply`.
  if (absl::StatusOr<platform::JailPrivileges> p =
          platform::JailPrivilegesFor(jail.spec);
      !p.ok()) {
    ErrorOnce(position, StrCat(context, ": ", ToStd(p.status().message())), x);
    return;
  }
#endif
  if (is_template ||
      jail.spec.network.mode != platform::NetworkMode::kInherit) {
    return;
  }
  for (const std::string& listen : server.listen) {
    if (!IsLoopbackListen(listen)) {
      Warn(position,
           StrCat(context, " relaxes isolation: ip4: inherit shares the "
                           "host's network, and the API listens on ",
                  Quote(listen),
                  ", which processes in the jail can reach; give the jail "
                  "its own stack (ip4: new, vnet: true) or listen on "
                  "loopback only"));
      return;
    }
  }
}

}  // namespace jailwarden::policy::internal
