#include "oci/spec.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/capabilities.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"

// nlohmann::json is used here and in state.cc; its exceptions stop in
// each function that parses.

namespace jailwarden::oci {
namespace {

using json = nlohmann::json;

absl::Status Unsupported(const std::string& pointer, std::string_view why) {
  return absl::InvalidArgumentError(StrCat(pointer, ": ", why));
}

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

bool HaveSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      uint64_t eff = std::stoull(line.substr(7), nullptr, 16);
      return ((eff >> 24) & 1) != 0;  // CAP_SYS_RESOURCE
    }
  }
  return false;
}

// The fields of `obj` not in `known`: the first one is refused.
absl::Status OnlyKnown(const json& obj, const std::string& pointer,
                       std::initializer_list<const char*> known) {
  if (!obj.is_object()) {
    return Unsupported(pointer, "must be an object");
  }
  for (const auto& [key, value] : obj.items()) {
    if (value.is_null()) {
      continue;
    }
    if (std::find_if(known.begin(), known.end(),
                     [&](const char* k) { return key == k; }) == known.end()) {
      return Unsupported(pointer + "/" + key, "not supported by jailwarden (docs/oci.md)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CapSet(const json& caps, const std::string& pointer) {
  uint64_t set = 0;
  if (!caps.is_array()) {
    return Unsupported(pointer, "must be an array of capability names");
  }
  for (std::size_t i = 0; i < caps.size(); ++i) {
    std::optional<int> cap =
        caps[i].is_string() ? platform::CapabilityFromName(caps[i].get<std::string>())
                            : std::nullopt;
    if (!cap) {
      return Unsupported(StrCat(pointer, "/", i), "unknown capability");
    }
    set |= uint64_t{1} << *cap;
  }
  return set;
}

absl::Status ProcessFromJsonObject(const json& j, const std::string& ptr,
                                   platform::InitOciProcess* p, bool* terminal, uint64_t* caps) {
  JW_RETURN_IF_ERROR(OnlyKnown(j, ptr,
                               {"terminal", "consoleSize", "user", "args", "env", "cwd",
                                "capabilities", "rlimits", "noNewPrivileges", "oomScoreAdj",
                                "apparmorProfile", "selinuxLabel"}));
  if (j.contains("apparmorProfile") && !j["apparmorProfile"].get<std::string>().empty()) {
    return Unsupported(ptr + "/apparmorProfile", "AppArmor is not supported by jailwarden");
  }
  if (j.contains("selinuxLabel") && !j["selinuxLabel"].get<std::string>().empty()) {
    return Unsupported(ptr + "/selinuxLabel", "SELinux is not supported by jailwarden");
  }
  p->args = j.value("args", std::vector<std::string>{});
  if (p->args.empty()) {
    return Unsupported(ptr + "/args", "must name the program to run");
  }
  p->env = j.value("env", std::vector<std::string>{});
  p->cwd = j.value("cwd", std::string("/"));
  if (p->cwd.empty() || p->cwd[0] != '/') {
    return Unsupported(ptr + "/cwd", "must be an absolute path");
  }
  *terminal = j.value("terminal", false);
  if (j.contains("consoleSize") && j["consoleSize"].is_object()) {
    p->console_rows = j["consoleSize"].value("height", 0);
    p->console_cols = j["consoleSize"].value("width", 0);
  }
  p->no_new_privileges = j.value("noNewPrivileges", false);
  if (j.contains("user")) {
    const json& u = j["user"];
    JW_RETURN_IF_ERROR(OnlyKnown(u, ptr + "/user", {"uid", "gid", "additionalGids", "umask",
                                                    "username"}));
    if (u.contains("umask") && !u["umask"].is_null()) {
      p->umask = static_cast<int>(u["umask"].get<uint32_t>() & 0777);
    }
    p->uid = u.value("uid", uint32_t{0});
    p->gid = u.value("gid", uint32_t{0});
    p->additional_gids = u.value("additionalGids", std::vector<uint32_t>{});
  }
  if (j.contains("capabilities") && caps != nullptr) {
    const json& c = j["capabilities"];
    JW_RETURN_IF_ERROR(OnlyKnown(c, ptr + "/capabilities",
                                 {"bounding", "effective", "permitted", "inheritable",
                                  "ambient"}));
    uint64_t bounding = 0;
    if (c.contains("bounding")) {
      JW_ASSIGN_OR_RETURN(bounding, CapSet(c["bounding"], ptr + "/capabilities/bounding"));
    }
    // jailwarden-init gives the process bounding = permitted = effective
    // (cap_drop.h); a config asking for other sets is refused, not bent.
    for (const char* set : {"effective", "permitted"}) {
      if (c.contains(set)) {
        JW_ASSIGN_OR_RETURN(uint64_t s, CapSet(c[set], ptr + "/capabilities/" + set));
        if (s != bounding) {
          return Unsupported(ptr + "/capabilities/" + set,
                             "must equal the bounding set (jailwarden gives a process one set)");
        }
      }
    }
    for (const char* set : {"inheritable", "ambient"}) {
      if (c.contains(set)) {
        JW_ASSIGN_OR_RETURN(uint64_t s, CapSet(c[set], ptr + "/capabilities/" + set));
        // For uid 0 execve gives the bounding set whatever these say; for
        // another uid jailwarden would drop them, so it refuses instead.
        if (s != 0 && (p->uid != 0 || (s & ~bounding) != 0)) {
          return Unsupported(ptr + "/capabilities/" + set,
                             "must be empty, or a subset of bounding for uid 0 (jailwarden "
                             "empties inheritable and ambient)");
        }
      }
    }
    *caps = bounding;
  }
  if (j.contains("rlimits")) {
    const json& rl = j["rlimits"];
    const bool can_raise = HaveSysResource();
    for (std::size_t i = 0; i < rl.size(); ++i) {
      std::string at = StrCat(ptr, "/rlimits/", i);
      std::string type = rl[i].value("type", "");
      auto it = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                             [&](const RlimitName& r) { return type == r.name; });
      if (it == std::end(kRlimits)) {
        return Unsupported(at + "/type", StrCat("unknown rlimit '", type, "'"));
      }
      uint64_t soft = rl[i].value("soft", uint64_t{0}), hard = rl[i].value("hard", uint64_t{0});
      if (soft > hard) {
        return Unsupported(at, StrCat(type, ": soft ", soft, " above hard ", hard));
      }
      struct rlimit cur;
      getrlimit(it->resource, &cur);
      // Raising a hard limit needs CAP_SYS_RESOURCE; without it the kernel
      // says EPERM at exec time. Refused here instead, by name.
      if (!can_raise && hard > cur.rlim_max) {
        return absl::PermissionDeniedError(
            StrCat(at, ": ", type, " hard limit ", hard, " is above the runtime's ",
                   cur.rlim_max, ": EPERM (raising a hard rlimit needs CAP_SYS_RESOURCE, "
                   "which this host withholds; ask for at most the current value)"));
      }
      p->rlimits.push_back({static_cast<uint64_t>(it->resource), soft, hard});
    }
  }
  return absl::OkStatus();
}

bool InvalidMountOption(const std::string& o) {
  static const std::set<std::string> kIgnorable = {
      "bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "suid", "dev", "exec",
      "private", "rprivate", "slave", "rslave", "relatime", "norelatime", "strictatime",
      "noatime", "nodiratime"};
  return kIgnorable.count(o) == 0 && o.find('=') == std::string::npos;
}

absl::Status AddMount(const json& m, const std::string& ptr, platform::InitConfig* init) {
  JW_RETURN_IF_ERROR(OnlyKnown(m, ptr, {"destination", "type", "source", "options"}));
  std::string dest = m.value("destination", "");
  std::string type = m.value("type", "");
  std::string source = m.value("source", "");
  std::vector<std::string> options = m.value("options", std::vector<std::string>{});
  if (dest.empty() || dest[0] != '/') {
    return Unsupported(ptr + "/destination", "must be an absolute path");
  }
  // What jailwarden-init makes itself for every jail (init_main_setup.cc):
  // /proc (with /proc/sys read-only and the masked files), a private /dev
  // with its own devpts instance. A config's own are those.
  if ((dest == "/proc" && type == "proc") || (dest == "/dev" && type == "tmpfs") ||
      (dest == "/dev/pts" && type == "devpts")) {
    return absl::OkStatus();
  }
  bool bind = type == "bind" || type == "rbind" || type == "none" || type.empty();
  bool ro = false;
  std::string data, flags;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const std::string& o = options[i];
    if (o == "bind" || o == "rbind") {
      bind = true;
    } else if (o == "ro") {
      ro = true;
    } else if (o == "nosuid" || o == "nodev" || o == "noexec") {
      flags += (flags.empty() ? "" : ",") + o;
    } else if (o.find('=') != std::string::npos) {
      data += (data.empty() ? "" : ",") + o;
    } else if (InvalidMountOption(o)) {
      return Unsupported(StrCat(ptr, "/options/", i), StrCat("mount option '", o,
                                                            "' not supported"));
    }
  }
  platform::InitMount im;
  im.target = dest;
  im.read_only = ro;
  if (bind) {
    if (source.empty() || source[0] != '/') {
      return Unsupported(ptr + "/source", "a bind mount's source must be an absolute path");
    }
    if (!data.empty()) {
      return Unsupported(ptr + "/options", StrCat("'", data, "' has no meaning for a bind"));
    }
    im.source = source;
    im.fstype = "nullfs";
    im.options = flags;
  } else if (type == "tmpfs") {
    im.fstype = "tmpfs";
    im.options = data;
  } else if (type == "sysfs" || type == "mqueue") {
    im.fstype = type;
  } else if (type == "cgroup" || type == "cgroup2") {
    // The container's cgroup namespace is rooted at its own cgroup; the
    // unified tree is what it sees (read-only unless the config says rw).
    im.fstype = "cgroup2";
  } else {
    return Unsupported(ptr + "/type", StrCat("mount type '", type, "' not supported"));
  }
  init->mounts.push_back(std::move(im));
  return absl::OkStatus();
}

absl::Status AddNamespaces(const json& list, OciPlan* plan) {
  bool pid = false, mnt = false;
  plan->clone_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string ptr = StrCat("/linux/namespaces/", i);
    JW_RETURN_IF_ERROR(OnlyKnown(list[i], ptr, {"type", "path"}));
    std::string type = list[i].value("type", "");
    std::string path = list[i].value("path", "");
    int flag = 0;
    if (type == "pid") {
      pid = true;
    } else if (type == "mount") {
      mnt = true;
    } else if (type == "network") {
      flag = CLONE_NEWNET;
      if (path.empty()) {
        plan->clone_flags |= CLONE_NEWNET;
        plan->init.new_net = true;
      }
    } else if (type == "ipc") {
      flag = CLONE_NEWIPC;
    } else if (type == "uts") {
      flag = CLONE_NEWUTS;
    } else if (type == "cgroup") {
      // jailwarden-init always makes one, rooted at the jail's leaf.
    } else if (type == "user") {
      return Unsupported(ptr + "/type", "user namespaces are not supported by jailwarden");
    } else {
      return Unsupported(ptr + "/type", StrCat("unknown namespace type '", type, "'"));
    }
    if (!path.empty()) {
      if (flag == 0) {
        return Unsupported(ptr + "/path", StrCat("joining a ", type,
                                                 " namespace is not supported"));
      }
      plan->joins.push_back({flag, path});
      if (flag != CLONE_NEWNET) {
        plan->clone_flags &= ~static_cast<uint64_t>(flag);
      }
    }
  }
  if (!pid || !mnt) {
    return Unsupported("/linux/namespaces",
                       "must include pid and mount (a jailwarden jail always has both)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseRlimitFreeResources(const json& r, const std::string& ptr,
                                                     std::vector<std::string>* rules) {
  JW_RETURN_IF_ERROR(OnlyKnown(r, ptr, {"memory", "cpu", "pids", "blockIO", "devices"}));
  if (r.contains("memory") && !r["memory"].is_null()) {
    const json& m = r["memory"];
    JW_RETURN_IF_ERROR(OnlyKnown(m, ptr + "/memory", {"limit", "swap", "disableOOMKiller"}));
    if (m.value("disableOOMKiller", false)) {
      return Unsupported(ptr + "/memory/disableOOMKiller", "not supported by jailwarden");
    }
    int64_t limit = m.value("limit", int64_t{0});
    if (limit > 0) {
      rules->push_back(StrCat("memoryuse:deny=", limit));
    }
    int64_t swap = m.value("swap", int64_t{0});
    if (swap > 0) {
      // OCI's swap is memory+swap; swapuse is the swap alone.
      if (limit <= 0 || swap < limit) {
        return Unsupported(ptr + "/memory/swap", "needs memory.limit and swap >= limit");
      }
      rules->push_back(StrCat("swapuse:deny=", swap - limit));
    }
  }
  if (r.contains("pids") && !r["pids"].is_null()) {
    JW_RETURN_IF_ERROR(OnlyKnown(r["pids"], ptr + "/pids", {"limit"}));
    int64_t limit = r["pids"].value("limit", int64_t{0});
    if (limit > 0) {
      rules->push_back(StrCat("maxproc:deny=", limit));
    }
  }
  if (r.contains("cpu") && !r["cpu"].is_null()) {
    const json& c = r["cpu"];
    JW_RETURN_IF_ERROR(OnlyKnown(c, ptr + "/cpu", {"quota", "period", "shares"}));
    if (c.value("shares", uint64_t{0}) != 0 && c.value("shares", uint64_t{0}) != 1024) {
      return Unsupported(ptr + "/cpu/shares", "no RCTL equivalent (only quota/period → pcpu)");
    }
    int64_t quota = c.value("quota", int64_t{0});
    uint64_t period = c.value("period", uint64_t{100000});
    if (quota > 0) {
      if (period == 0) {
        return Unsupported(ptr + "/cpu/period", "must be positive");
      }
      uint64_t pct = (static_cast<uint64_t>(quota) * 100 + period - 1) / period;
      rules->push_back(StrCat("pcpu:deny=", pct));
    }
  }
  if (r.contains("blockIO") && !r["blockIO"].is_null()) {
    const json& b = r["blockIO"];
    JW_RETURN_IF_ERROR(OnlyKnown(b, ptr + "/blockIO",
                                 {"throttleReadBpsDevice", "throttleWriteBpsDevice",
                                  "throttleReadIOPSDevice", "throttleWriteIOPSDevice"}));
    for (const auto& [field, resource] :
         {std::pair<const char*, const char*>{"throttleReadBpsDevice", "readbps"},
          {"throttleWriteBpsDevice", "writebps"},
          {"throttleReadIOPSDevice", "readiops"},
          {"throttleWriteIOPSDevice", "writeiops"}}) {
      if (!b.contains(field)) {
        continue;
      }
      const json& list = b[field];
      if (list.size() > 1) {
        return Unsupported(StrCat(ptr, "/blockIO/", field),
                           "one device at most: the throttle applies to the jail's root disk");
      }
      for (const json& d : list) {
        rules->push_back(StrCat(resource, ":throttle=", d.value("rate", uint64_t{0})));
      }
    }
  }
  if (r.contains("devices") && !r["devices"].is_null()) {
    // The jail's /dev is jailwarden's fixed set (null, zero, full, random,
    // urandom, tty, its own ptys) and mknod needs CAP_MKNOD: a list that
    // denies everything and allows only those is what the jail already is.
    const json& d = r["devices"];
    for (std::size_t i = 0; i < d.size(); ++i) {
      std::string at = StrCat(ptr, "/devices/", i);
      bool allow = d[i].value("allow", false);
      if (!allow) {
        if (d[i].contains("major") || d[i].contains("minor") ||
            d[i].value("type", "a") != "a") {
          return Unsupported(at, "a deny rule for one device is not supported");
        }
        continue;
      }
      std::string type = d[i].value("type", "a");
      int64_t major = d[i].value("major", int64_t{-1});
      if (type == "a" || major < 0 ||
          !(major == 1 || major == 5 || major == 136)) {
        return Unsupported(at, "only the jail's fixed devices (majors 1, 5, 136) can be allowed");
      }
    }
  }
  return std::string();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RulesFromResources(std::string_view resources_json,
                                                            const std::string& pointer) {
  try {
    json r = json::parse(resources_json);
    std::vector<std::string> rules;
    JW_RETURN_IF_ERROR(ParseRlimitFreeResources(r, pointer, &rules).status());
    return rules;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(pointer, ": ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string>> RulesFromAnnotations(
    const std::map<std::string, std::string>& annotations) {
  static constexpr std::string_view kPrefix = "org.jailwarden.rctl.";
  std::vector<std::string> rules;
  for (const auto& [key, value] : annotations) {
    if (key.rfind(kPrefix, 0) != 0) {
      continue;
    }
    std::string resource = key.substr(kPrefix.size());
    for (std::string_view part : Split(value, ',')) {
      std::string text = StrCat("jail:x:", resource, ":", part);
      absl::StatusOr<std::string> expanded = rctl::ExpandRule(text);
      if (!expanded.ok()) {
        return absl::InvalidArgumentError(StrCat("/annotations/", key, ": ",
                                                 std::string(expanded.status().message())));
      }
      absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(*expanded);
      if (!rule.ok()) {
        return absl::InvalidArgumentError(StrCat("/annotations/", key, ": '", part, "': ",
                                                 std::string(rule.status().message())));
      }
      rules.push_back(expanded->substr(7));  // without "jail:x:"
    }
  }
  return rules;
}

absl::Status ProcessFromJson(std::string_view process_json, const std::string& pointer,
                             platform::InitOciProcess* p, bool* terminal, uint64_t* caps) {
  try {
    return ProcessFromJsonObject(json::parse(process_json), pointer, p, terminal, caps);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(pointer, ": ", e.what()));
  }
}

absl::StatusOr<OciPlan> PlanFromConfig(std::string_view config_json, const std::string& bundle) {
  try {
    json j = json::parse(config_json);
    OciPlan plan;
    JW_RETURN_IF_ERROR(OnlyKnown(j, "", {"ociVersion", "root", "mounts", "process", "hostname",
                                         "domainname", "hooks", "annotations", "linux"}));
    if (!j.contains("process")) {
      return Unsupported("/process", "missing (jailwarden runs one process per container)");
    }
    uint64_t caps = 0;
    JW_RETURN_IF_ERROR(
        ProcessFromJsonObject(j["process"], "/process", &plan.process, &plan.terminal, &caps));
    plan.init.capabilities = caps;
    if (j["process"].contains("oomScoreAdj")) {
      plan.has_oom_score_adj = true;
      plan.oom_score_adj = j["process"]["oomScoreAdj"].get<int>();
    }
    if (!j.contains("root")) {
      return Unsupported("/root", "missing");
    }
    JW_RETURN_IF_ERROR(OnlyKnown(j["root"], "/root", {"path", "readonly"}));
    std::string root = j["root"].value("path", "");
    if (root.empty()) {
      return Unsupported("/root/path", "missing");
    }
    plan.init.root = root[0] == '/' ? root : bundle + "/" + root;
    plan.process.root_readonly = j["root"].value("readonly", false);
    plan.init.hostname = j.value("hostname", "");
    if (!j.value("domainname", "").empty()) {
      return Unsupported("/domainname", "not supported by jailwarden");
    }
    const json mounts = j.value("mounts", json::array());
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      JW_RETURN_IF_ERROR(AddMount(mounts[i], StrCat("/mounts/", i), &plan.init));
    }
    plan.annotations = j.value("annotations", std::map<std::string, std::string>{});
    if (j.contains("hooks")) {
      JW_RETURN_IF_ERROR(OnlyKnown(j["hooks"], "/hooks",
                                   {"prestart", "createRuntime", "createContainer",
                                    "startContainer", "poststart", "poststop"}));
      for (const auto& [kind, list] : j["hooks"].items()) {
        for (const json& h : list) {
          Hook hook;
          hook.path = h.value("path", "");
          hook.args = h.value("args", std::vector<std::string>{});
          hook.env = h.value("env", std::vector<std::string>{});
          hook.timeout_s = h.value("timeout", 0);
          plan.hooks[kind].push_back(std::move(hook));
        }
      }
    }
    if (!j.contains("linux")) {
      return Unsupported("/linux", "missing (jailwarden runs Linux containers here)");
    }
    const json& l = j["linux"];
    JW_RETURN_IF_ERROR(OnlyKnown(l, "/linux",
                                 {"namespaces", "resources", "cgroupsPath", "seccomp",
                                  "maskedPaths", "readonlyPaths", "sysctl", "mountLabel",
                                  "rootfsPropagation", "uidMappings", "gidMappings"}));
    for (const char* f : {"uidMappings", "gidMappings"}) {
      if (l.contains(f) && !l[f].empty()) {
        return Unsupported(StrCat("/linux/", f), "user namespaces are not supported");
      }
    }
    if (l.contains("sysctl") && !l["sysctl"].empty()) {
      return Unsupported("/linux/sysctl/" + l["sysctl"].begin().key(),
                         "sysctls are not supported by jailwarden's OCI mode");
    }
    if (!l.value("mountLabel", "").empty()) {
      return Unsupported("/linux/mountLabel", "SELinux is not supported by jailwarden");
    }
    std::string propagation = l.value("rootfsPropagation", "");
    if (!propagation.empty() && propagation != "private" && propagation != "rprivate") {
      return Unsupported("/linux/rootfsPropagation", "only private propagation is supported");
    }
    JW_RETURN_IF_ERROR(AddNamespaces(l.value("namespaces", json::array()), &plan));
    plan.cgroups_path = l.value("cgroupsPath", "");
    if (l.contains("resources") && !l["resources"].is_null()) {
      JW_ASSIGN_OR_RETURN(plan.rules, RulesFromResources(l["resources"].dump(),
                                                         "/linux/resources"));
    }
    JW_ASSIGN_OR_RETURN(std::vector<std::string> more, RulesFromAnnotations(plan.annotations));
    plan.rules.insert(plan.rules.end(), more.begin(), more.end());
    plan.process.masked_paths = l.value("maskedPaths", std::vector<std::string>{});
    plan.process.readonly_paths = l.value("readonlyPaths", std::vector<std::string>{});
    if (l.contains("seccomp") && !l["seccomp"].is_null()) {
      JW_ASSIGN_OR_RETURN(plan.process.seccomp_bpf_hex,
                          CompileSeccompProfile(l["seccomp"].dump()));
    }
    return plan;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("config.json: ", e.what()));
  }
}

}  // namespace jailwarden::oci
