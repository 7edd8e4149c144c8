// internal::Loader: the jails: section, one jail's keys, and the `depend`
// check across jails.

#include <arpa/inet.h>
#include <sys/socket.h>  // AF_INET, AF_INET6 (FreeBSD: not pulled in by arpa/inet.h)

#include <algorithm>
#include <iterator>

#include "jailwarden/base/strings.h"
#include "jailwarden/jail/depend.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/seccomp.h"
#endif
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ParseJails(const YamlNode& node, Policy& policy) {
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
void Loader::CheckDepend(const Policy& policy,
                         const std::vector<JailExtras>& extras) {
  jail::DependGraph graph;
  std::map<std::string, std::size_t, std::less<>> index;
  std::vector<std::string> roots;
  for (std::size_t i = 0; i < policy.jails.size(); ++i) {
    const std::string& name = policy.jails[i].name;
    index[name] = i;
    roots.push_back(name);
    std::vector<std::string>& deps = graph[name];
    for (const auto& [dep, pos] : extras[i].depend) {
      deps.push_back(dep);
    }
  }
  // Every dangling entry, in file order, in this policy's words.
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
  // The jail layer's walk over every jail in file order; a cycle is
  // reported at the `depend` entry that closes it, and the walk goes on.
  (void)jail::DependWalk(
      graph, roots, [&](const jail::DependProblem& problem) -> absl::Status {
        const JailExtras& x = extras[index.at(problem.jail)];
        const auto& [dep, pos] = x.depend[problem.index];
        if (index.count(dep) != 0) {  // a cycle (dangling ones are above)
          ErrorOnce(pos, std::string(problem.status.message()), nullptr);
        }
        return absl::OkStatus();
      });
}

JailPolicy Loader::ReadJail(const std::string& name, const YamlNode& map,
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
    WarnIfRelaxing(k, value, what);
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
        // 64: Linux's HOST_NAME_MAX, which jail::Manager enforces too.
        if (s->empty() || s->size() > 64 ||
            s->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                std::string::npos) {
          ErrorOnce(value.position,
                    StrCat(what,
                           ": expected a host name of 1 to 64 "
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
        } else {
          ip6_mode = *s;
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
            ErrorOnce(pos, StrCat(what, ": a jail cannot depend on itself"), x);
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
    } else if (ReadCommandKey(k, value, what, &spec, x)) {
      // command / restart / log (issue 17): loader_command.cc
    } else if (k == "healthcheck") {  // issue 17: health checks
      ReadHealthCheck(value, what, &jail, x);
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
    } else if (k == "linux.capabilities") {
      ReadCapabilities(value, what, &spec.parameters, x);
    } else if (const ParamDef* p = FindParam(k)) {
      ReadParameter(*p, value, what, &spec.parameters, x);
    }
    // Anything else was reported by CheckKeys on the map it came from.
  }

  // Networking: vnet wins; addresses or ip4/ip6=new|disable mean an own
  // address set; otherwise the host's stack is shared.
  if (ip4_mode == "inherit" && ip4_addr_node != nullptr &&
      !spec.network.ip4_addresses.empty()) {
    ErrorOnce(ip4_addr_node->position,
              StrCat("'ip4.addr' in ", context,
                     " conflicts with ip4: inherit (addresses imply ip4: new)"),
              x);
  }
  if (ip6_mode == "inherit" && ip6_addr_node != nullptr &&
      !spec.network.ip6_addresses.empty()) {
    ErrorOnce(ip6_addr_node->position,
              StrCat("'ip6.addr' in ", context,
                     " conflicts with ip6: inherit (addresses imply ip6: new)"),
              x);
  }
  if (ip4_mode == "disable") {
    spec.parameters["ip4"] = "disable";
  }
  if (ip6_mode == "disable") {
    spec.parameters["ip6"] = "disable";
  }
  if (vnet) {
    spec.network.mode = platform::NetworkMode::kVnet;
  } else if (ip4_mode == "new" || ip4_mode == "disable" || ip6_mode == "new" ||
             ip6_mode == "disable" || !spec.network.ip4_addresses.empty() ||
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
      spec.main.argv.empty() && !spec.persist) {
    // jail(8): "A new jail needs persist, exec.start or command".
    ErrorOnce(position,
              StrCat(context,
                     " has nothing to keep it alive: set exec.start, command or "
                     "persist: true (jail(8) refuses to create it)"),
              x);
  }
  CheckPrivileges(jail, position, context, is_template, server, x);
  return jail;
}

const ExecKey* Loader::FindExec(std::string_view key) {
  for (const ExecKey& e : kExecKeys) {
    if (e.key == key) {
      return &e;
    }
  }
  return nullptr;
}

void Loader::ReadSeccomp(const ParamDef& p, const YamlNode& value,
                         const std::string& what,
                         std::map<std::string, std::string>* out,
                         JailExtras* x) {
  if (!value.IsMap()) {
    ErrorOnce(value.position,
              StrCat(what, ": expected a map {allow: [...], deny: [...]}, got ",
                     Found(value)),
              x);
    return;
  }
  CheckKeys(value, {std::begin(kSeccompKeys), std::end(kSeccompKeys)}, what);
  std::vector<std::string> allow, deny;
  bool ok = true;
  for (const auto& [key, list] : value.entries) {
    if (!key.IsScalar() ||
        (key.scalar != "allow" && key.scalar != "deny")) {
      ok = false;  // reported by CheckKeys
      continue;
    }
    std::vector<std::string>& into = key.scalar == "allow" ? allow : deny;
    const std::string list_what = StrCat(what, " ", key.scalar);
    auto names = GetStringList(list, list_what, x);
    if (!names) {
      ok = false;
      continue;
    }
    for (const auto& [name, pos] : *names) {
      if (!IsSyscallName(name)) {
        ErrorOnce(pos,
                  StrCat(list_what, ": ", Quote(name),
                         " is not a system call name"),
                  x);
        ok = false;
      } else if (std::find(into.begin(), into.end(), name) == into.end()) {
        into.push_back(name);
      }
    }
  }
  for (const std::string& name : allow) {
    if (std::find(deny.begin(), deny.end(), name) != deny.end()) {
      ErrorOnce(value.position,
                StrCat(what, ": ", Quote(name), " is both allowed and denied"),
                x);
      ok = false;
    }
  }
  if (!ok) {
    return;
  }
  std::string text;
  for (const auto& [tag, names] :
       {std::pair{"allow:", &allow}, std::pair{"deny:", &deny}}) {
    if (!names->empty()) {
      StrAppend(&text, text.empty() ? "" : " ", tag, Join(*names, ","));
    }
  }
  (*out)[std::string(p.key)] = text;
}

bool Loader::IsSyscallName(std::string_view name) {
#if defined(__linux__)
  return platform::IsKnownSyscallName(name);
#else
  // Elsewhere only the shape is checked; a Linux host checks the name
  // when it makes the jail.
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
#endif
}

void Loader::ReadParameter(const ParamDef& p, const YamlNode& value,
                           const std::string& what,
                           std::map<std::string, std::string>* out,
                           JailExtras* x) {
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
    case ParamType::kSeccomp:
      ReadSeccomp(p, value, what, out, x);
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

}  // namespace jailwarden::policy::internal
