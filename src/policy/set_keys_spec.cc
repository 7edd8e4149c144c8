// SetJailSpecKeys (policy.h): `jailwarden set` of a jail created through
// the API. Its spec is written as one policy jail, the keys are set in that
// text as in a policy's, and the loader reads the result: the same words,
// checks and messages a policy jail's keys get.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "policy/schema.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy {
namespace {

using internal::YamlNode;

YamlNode Scalar(std::string_view text) {
  YamlNode n;
  n.kind = YamlNode::Kind::kScalar;
  n.scalar = std::string(text);
  n.quoted = true;  // a string, whatever it looks like
  return n;
}

YamlNode Plain(std::string_view text) {
  YamlNode n = Scalar(text);
  n.quoted = false;
  return n;
}

YamlNode List(const std::vector<std::string>& items) {
  YamlNode n;
  n.kind = YamlNode::Kind::kSequence;
  for (const std::string& s : items) n.items.push_back(Scalar(s));
  return n;
}

YamlNode EmptyMap() {
  YamlNode n;
  n.kind = YamlNode::Kind::kMap;
  return n;
}

void Put(YamlNode& map, std::string_view key, YamlNode value) {
  map.entries.emplace_back(Plain(key), std::move(value));
}

std::string Seconds(absl::Duration d) {
  return StrCat(absl::ToDoubleSeconds(d), "s");
}

// The keys of `spec` as a policy jail's map. What it cannot write (a
// command:, log: or a parameter whose policy form is not a string) shows
// in the round trip SetJailSpecKeys checks.
YamlNode JailMap(const platform::JailSpec& spec) {
  YamlNode m = EmptyMap();
  Put(m, "path", Scalar(spec.path));
  if (!spec.base_root.empty()) Put(m, "base", Scalar(spec.base_root));
  if (!spec.hostname.empty()) Put(m, "host.hostname", Scalar(spec.hostname));
  const platform::NetworkSpec& net = spec.network;
  if (net.mode == platform::NetworkMode::kVnet) Put(m, "vnet", Plain("true"));
  if (!net.ip4_addresses.empty()) Put(m, "ip4.addr", List(net.ip4_addresses));
  if (!net.ip6_addresses.empty()) Put(m, "ip6.addr", List(net.ip6_addresses));
  if (net.mode == platform::NetworkMode::kNew && net.ip4_addresses.empty() &&
      net.ip6_addresses.empty() && spec.parameters.count("ip4") == 0 &&
      spec.parameters.count("ip6") == 0) {
    Put(m, "ip4", Scalar("new"));
  }
  if (!net.host_ip4.empty()) Put(m, "vnet.host_ip4", Scalar(net.host_ip4));
  if (!net.interface.empty()) Put(m, "interface", Scalar(net.interface));
  if (!spec.mounts.empty()) {
    YamlNode list;
    list.kind = YamlNode::Kind::kSequence;
    for (const platform::MountSpec& mount : spec.mounts) {
      YamlNode e = EmptyMap();
      Put(e, "source", Scalar(mount.source));
      Put(e, "target", Scalar(mount.target));
      Put(e, "fstype", Scalar(mount.fstype));
      Put(e, "read_only", Plain(mount.read_only ? "true" : "false"));
      if (!mount.options.empty()) Put(e, "options", Scalar(mount.options));
      list.items.push_back(std::move(e));
    }
    Put(m, "mount", std::move(list));
  }
  if (!spec.copies.empty()) {
    YamlNode list;
    list.kind = YamlNode::Kind::kSequence;
    for (const platform::CopySpec& copy : spec.copies) {
      YamlNode e = EmptyMap();
      Put(e, "source", Scalar(copy.source));
      Put(e, "target", Scalar(copy.target));
      list.items.push_back(std::move(e));
    }
    Put(m, "copy", std::move(list));
  }
  for (const internal::ExecKey& e : internal::kExecKeys) {
    const platform::CommandList& commands = spec.exec.*(e.member);
    if (!commands.empty()) Put(m, e.key, List(commands));
  }
  if (spec.exec.clean) Put(m, "exec.clean", Plain("true"));
  if (spec.exec.timeout != absl::ZeroDuration()) {
    Put(m, "exec.timeout", Scalar(Seconds(spec.exec.timeout)));
  }
  if (spec.stop_timeout != platform::JailSpec{}.stop_timeout) {
    Put(m, "stop.timeout", Scalar(Seconds(spec.stop_timeout)));
  }
  if (spec.persist) Put(m, "persist", Plain("true"));
  for (const auto& [k, v] : spec.parameters) {
    // Plain when it is a plain word (a number or a boolean parameter reads
    // its value so), quoted otherwise.
    const bool word = !v.empty() && v.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789._/-") == std::string::npos;
    Put(m, k, word ? Plain(v) : Scalar(v));
  }
  return m;
}

// The parts of `a` and `b` that differ, for the refusal's message.
std::string Differences(const platform::JailSpec& a, const platform::JailSpec& b) {
  std::vector<std::string_view> out;
  if (a.path != b.path || a.base_root != b.base_root || a.hostname != b.hostname) {
    out.push_back("path, base or host.hostname");
  }
  if (!(a.network == b.network)) out.push_back("the network keys");
  if (a.mounts != b.mounts) out.push_back("mount");
  if (a.copies != b.copies) out.push_back("copy");
  if (!(a.exec == b.exec)) out.push_back("the exec.* keys");
  if (a.persist != b.persist || a.stop_timeout != b.stop_timeout) {
    out.push_back("persist or stop.timeout");
  }
  if (a.parameters != b.parameters) out.push_back("jail(8) parameters");
  if (!(a.main == b.main)) out.push_back("command or restart");
  if (!(a.log == b.log)) out.push_back("log");
  return Join(out, ", ");
}

}  // namespace

absl::StatusOr<platform::JailSpec> SetJailSpecKeys(const platform::JailSpec& spec,
                                                   const std::vector<JailKeyValue>& keys) {
  for (const JailKeyValue& kv : keys) {
    std::string_view why;
    if (kv.key == "limits") {
      why = "its limits are runtime rules: change them with rctl -a / rctl -r";
    } else if (kv.key == "template" || kv.key == "healthcheck") {
      why = "it is fixed at create (destroy and create it again)";
    } else if (kv.key == "depend") {
      why = "its dependencies are fixed at create (destroy and create it again)";
    }
    if (!why.empty()) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "key ", internal::Quote(kv.key), " of jail ", internal::Quote(spec.name),
          " (created through the API): ", why)));
    }
  }
  YamlNode jails = EmptyMap();
  Put(jails, spec.name, JailMap(spec));
  YamlNode root = EmptyMap();
  Put(root, "jails", std::move(jails));
  const std::string text = internal::EmitYaml(root);
  const std::string label = StrCat("jail ", spec.name, " (created through the API)");
  // What the loader reads back of the spec as it is must be the spec, else
  // a set would change keys nobody named.
  auto read = [&](std::string_view t, std::string_view l) -> absl::StatusOr<platform::JailSpec> {
    JW_ASSIGN_OR_RETURN(Policy p, LoadPolicyText(t, l));
    if (p.jails.size() != 1) return absl::InternalError("the jail's text holds no jail");
    platform::JailSpec out = std::move(p.jails.front().spec);
    out.depend = spec.depend;
    out.template_name = spec.template_name;
    return out;
  };
  absl::StatusOr<platform::JailSpec> now = read(text, label);
  if (!now.ok() || !(*now == spec)) {
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        "jail ", internal::Quote(spec.name),
        " was created through the API with a definition set cannot write as policy keys (",
        now.ok() ? Differences(spec, *now) : std::string(ToStd(now.status().message())),
        "); destroy and create it again")));
  }
  JW_ASSIGN_OR_RETURN(std::string edited, SetJailKeysInText(text, label, spec.name, keys));
  return read(edited, StrCat("set ", spec.name));
}

}  // namespace jailwarden::policy
