// RunLinuxSelftest: the facts the Linux backend depends on, read from this
// host with the backend's own code where it has some (CgroupLayout,
// DetectCgroupVersion, DescribeLinuxEnforcement, the seccomp and openat2
// probes made here). Built on Linux only (src/selftest/CMakeLists.txt); the
// guard keeps compile-check's FreeBSD pass, which takes every src/ file,
// from reading Linux headers.

#if defined(__linux__)

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/selftest/selftest.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/cgroup_reader.h"
#include "platform/linux/resource_map.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace jailwarden::selftest {
namespace {

struct Namespace {
  const char* name;  // /proc/self/ns/<name>
  int flag;
  bool needed;  // the Linux backend makes one per jail
};
constexpr std::array<Namespace, 8> kNamespaces = {{
    {"mnt", CLONE_NEWNS, true},      {"uts", CLONE_NEWUTS, true},
    {"ipc", CLONE_NEWIPC, true},     {"pid", CLONE_NEWPID, true},
    {"net", CLONE_NEWNET, true},     {"cgroup", CLONE_NEWCGROUP, true},
    {"user", CLONE_NEWUSER, false},  {"time", CLONE_NEWTIME, false},
}};

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  return s.ok() ? std::string(StripWhitespace(*s)) : std::string();
}

// unshare(2) of each namespace in a forked child (which then exits, taking
// the namespaces with it). The errno per namespace, -1 if the child died.
std::array<int, kNamespaces.size()> TryUnshare() {
  std::array<int, kNamespaces.size()> result;
  result.fill(-1);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    std::array<int, kNamespaces.size()> mine{};
    for (std::size_t i = 0; i < kNamespaces.size(); ++i) {
      mine[i] = unshare(kNamespaces[i].flag) == 0 ? 0 : errno;
    }
    const ssize_t w = write(fds[1], mine.data(), sizeof mine);
    _exit(w == static_cast<ssize_t>(sizeof mine) ? 0 : 1);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return result;
  }
  std::array<int, kNamespaces.size()> got{};
  const ssize_t n = read(fds[0], got.data(), sizeof got);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof got)) result = got;
  return result;
}

// A jail-wide rule of the kind a policy would write for the resource: a
// deny where FreeBSD accepts one, else a throttle, else a signal (cputime,
// wallclock: rctl_add_rule refuses deny and throttle, §6.5).
absl::StatusOr<rctl::Rule> ResourceRule(const platform::LinuxResourceRow& row) {
  for (std::string_view action : {"deny", "throttle", "sigkill"}) {
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(
        StrCat("jail:selftest:", rctl::ResourceName(row.resource), ":", action, "=1000"));
    if (rule.ok() || StatusErrno(rule.status()) != EOPNOTSUPP) return rule;
  }
  return absl::InternalError("no action is accepted");
}

}  // namespace

Report RunLinuxSelftest(const LinuxSelftestOptions& options) {
  Report report;
  report.platform = "linux";
  report.kernel = StrCat(Read(StrCat(options.proc_root, "/sys/kernel/ostype")), " ",
                         Read(StrCat(options.proc_root, "/sys/kernel/osrelease")));
  std::vector<Row>& rows = report.rows;
  const bool root = geteuid() == 0;

  // Namespaces: present in /proc, and (as root) made in a throwaway child.
  std::array<int, kNamespaces.size()> made{};
  made.fill(-1);
  if (root && options.throwaway_jail) made = TryUnshare();
  for (std::size_t i = 0; i < kNamespaces.size(); ++i) {
    const Namespace& ns = kNamespaces[i];
    const bool present =
        std::filesystem::exists(StrCat(options.proc_root, "/self/ns/", ns.name));
    Row row{"namespace", ns.name, present ? "present" : "absent",
            ns.needed ? "present" : "", Verdict::kInfo};
    if (root && options.throwaway_jail) {
      StrAppend(&row.observed, made[i] == 0 ? ", unshare ok"
                                            : StrCat(", unshare ", made[i] < 0
                                                                       ? std::string_view("failed")
                                                                       : ErrnoName(made[i])));
      if (ns.needed) row.expected = "present, unshare ok";
    }
    if (ns.needed) {
      row.verdict = row.observed == row.expected ? Verdict::kMatch : Verdict::kMissing;
    }
    rows.push_back(std::move(row));
  }

  // cgroups: the layout the runtime picks, the version the enforcer writes.
  const std::string self_cgroup = Read(StrCat(options.proc_root, "/self/cgroup"));
  absl::StatusOr<platform::CgroupLayout> layout =
      platform::CgroupLayout::Detect(options.cgroup_root, self_cgroup);
  const std::string version(platform::DetectCgroupVersion(options.cgroup_root));
  rows.push_back({"cgroup", "layout (CgroupLayout::Detect)",
                  layout.ok() ? std::string(layout->name())
                              : std::string(layout.status().message()),
                  "hybrid, v2 or v1", layout.ok() ? Verdict::kMatch : Verdict::kMissing});
  rows.push_back({"cgroup", "enforcer's knob set (DetectCgroupVersion)", version, "",
                  Verdict::kInfo});
  {
    const std::string unified = version == "v2" ? options.cgroup_root
                                                : StrCat(options.cgroup_root, "/unified");
    const std::string controllers = Read(StrCat(unified, "/cgroup.controllers"));
    rows.push_back({"cgroup", "v2 controllers at the root",
                    controllers.empty() ? "(none)" : controllers, "", Verdict::kInfo});
  }
  if (root && options.throwaway_jail && layout.ok()) {
    // A throwaway jail's cgroups: made below our own cgroup, then removed.
    const std::string parent = StrCat("jwselftest", static_cast<int64_t>(getpid()));
    absl::StatusOr<std::map<std::string, std::string>> dirs = layout->Create(parent, "probe");
    std::string observed;
    if (dirs.ok()) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : *dirs) {
        if (k != "cgroup.version") keys.push_back(k);  // a note, not a directory
      }
      absl::Status removed = platform::CgroupLayout::Remove(*dirs);
      layout->RemoveParent(parent);
      observed = StrCat("made ", Join(keys, ","),
                        removed.ok() ? "; removed"
                                   : StrCat("; remove: ", std::string(removed.message())));
      rows.push_back({"cgroup", "throwaway jail cgroups (create, remove)", observed,
                      "made; removed", removed.ok() ? Verdict::kMatch : Verdict::kDiffers});
    } else {
      rows.push_back({"cgroup", "throwaway jail cgroups (create, remove)",
                      std::string(dirs.status().message()), "made; removed",
                      Verdict::kMissing});
    }
  } else {
    rows.push_back({"cgroup", "throwaway jail cgroups (create, remove)",
                    root ? "not run" : "not run: needs root", "", Verdict::kInfo});
  }

  // seccomp: the filter every jail process runs under.
  {
    const int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    const std::string actions =
        Read(StrCat(options.proc_root, "/sys/kernel/seccomp/actions_avail"));
    const bool ok = mode >= 0 && actions.find("errno") != std::string::npos;
    rows.push_back({"seccomp", "filter mode (PR_GET_SECCOMP), actions",
                    mode < 0 ? std::string(ErrnoName(errno))
                             : StrCat("mode ", mode, "; ", actions.empty() ? "?" : actions),
                    "mode 0; errno among actions", ok ? Verdict::kMatch : Verdict::kMissing});
  }
  // openat2(2) with RESOLVE_BENEATH: the jail-relative path walks.
  {
    struct open_how how = {};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    const int e = errno;
    if (fd >= 0) close(static_cast<int>(fd));
    rows.push_back({"openat2", "openat2(\".\", RESOLVE_BENEATH)",
                    fd >= 0 ? "ok" : std::string(ErrnoName(e)), "ok",
                    fd >= 0 ? Verdict::kMatch : Verdict::kMissing});
  }

  // The 25 resources: how a jail-wide rule is enforced on this host.
  const bool v2 = version == "v2";
  for (const platform::LinuxResourceRow& row : platform::LinuxResourceMap()) {
    absl::StatusOr<rctl::Rule> rule = ResourceRule(row);
    if (!rule.ok()) {
      rows.push_back({"resource", std::string(rctl::ResourceName(row.resource)),
                      std::string(rule.status().message()), "", Verdict::kDiffers});
      continue;
    }
    const platform::Enforcement e = platform::DescribeLinuxEnforcement(*rule, v2);
    rows.push_back({"resource", StrCat(rctl::ResourceName(row.resource), " (",
                                       rctl::ActionName(rule->action), ")"),
                    StrCat(platform::FidelityName(e.fidelity), " via ", e.mechanism), "",
                    Verdict::kInfo});
  }
  return report;
}

}  // namespace jailwarden::selftest

#endif  // defined(__linux__)
