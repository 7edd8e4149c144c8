#include "jailwarden/platform/linux/jail_scopes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/cgroup_placement.h"
#include "jailwarden/platform/linux/proc_cgroup.h"
#include "platform/linux/cgroup.h"

namespace jailwarden::platform {
namespace {

// How long systemd may take to start or stop a scope (a job on an idle
// manager takes milliseconds; a busy one at boot can take seconds).
constexpr absl::Duration kScopeJobTimeout = absl::Seconds(20);
// Stopping a scope with processes left (the jail's were killed before).
constexpr absl::Duration kScopeStopTimeout = absl::Seconds(5);

std::string Get(const std::map<std::string, std::string>& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? "" : it->second;
}

absl::Status Mkdir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, StrCat("mkdir ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteOnce(const std::string& path, std::string_view value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoStatus(err, StrCat("write '", value, "' to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ScopeUnitName(std::string_view cgroup_parent, std::string_view jail) {
  if (cgroup_parent == "jailwarden") {
    return StrCat("jailwarden-", jail, ".scope");
  }
  return StrCat(cgroup_parent, ":", jail, ".scope");
}

std::string SliceCgroupPath(std::string_view slice) {
  // systemd.slice(5): each '-' of the name is a level of the tree.
  constexpr std::string_view kSuffix = ".slice";
  if (slice == "-.slice" || !slice.ends_with(kSuffix)) {
    return "";
  }
  std::string_view stem = slice.substr(0, slice.size() - kSuffix.size());
  std::string out;
  for (std::size_t i = 0; i <= stem.size(); ++i) {
    if (i == stem.size() || stem[i] == '-') {
      StrAppend(&out, "/", stem.substr(0, i), kSuffix);
    }
  }
  return out;
}

bool SystemdScopesWanted(std::string_view cgroup_root, std::string_view host_root) {
  const std::string root(host_root);
  absl::StatusOr<std::string> comm = ReadFile(root + "/proc/1/comm");
  if (!comm.ok() || StripWhitespace(*comm) != "systemd") {
    return false;
  }
  struct stat st;
  if (stat((root + "/run/systemd/system").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return false;
  }
  return access(StrCat(cgroup_root, "/cgroup.controllers").c_str(), F_OK) == 0;
}

std::map<std::string, std::string> PlannedScopeState(std::string_view unified_mount,
                                                     std::string_view cgroup_parent,
                                                     std::string_view jail) {
  std::string mount(unified_mount);
  while (mount.size() > 1 && mount.back() == '/') {
    mount.pop_back();
  }
  const std::string unit = ScopeUnitName(cgroup_parent, jail);
  const std::string scope = StrCat(mount, SliceCgroupPath(kJailSlice), "/", unit);
  return {
      {"cgroup.version", "v2"},
      {"cgroup.unified", StrCat(scope, "/", jail)},
      {std::string(kCgroupLeafKey), kCgroupLeaf},
      {kScopeUnitKey, unit},
      {kScopeCgroupKey, scope},
  };
}

absl::Status PlaceInitInScope(JailScopeManager& scopes,
                              const std::map<std::string, std::string>& backend_state,
                              std::string_view jail, pid_t pid) {
  const std::string unit = Get(backend_state, kScopeUnitKey);
  const std::string scope = Get(backend_state, kScopeCgroupKey);
  const std::string top = Get(backend_state, "cgroup.unified");
  if (unit.empty() || scope.empty() || top.empty()) {
    return absl::InvalidArgumentError(StrCat("jail ", jail, ": no scope planned"));
  }
  JailScopeRequest request;
  request.unit = unit;
  request.slice = kJailSlice;
  request.description = StrCat("jailwarden jail ", jail);
  request.pid = pid;
  request.cgroup_dir = scope;
  JW_RETURN_IF_ERROR(scopes.StartScope(request, kScopeJobTimeout));

  // systemd moved the pid; it must be where the record says the jail is.
  JW_ASSIGN_OR_RETURN(std::string text, ReadFile(StrCat("/proc/", pid, "/cgroup")));
  JW_ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> entries, ParseProcCgroup(text));
  const ProcCgroupEntry* unified = FindCgroupEntry(entries, "");
  if (unified == nullptr || !scope.ends_with(unified->path) || unified->path.size() < 2) {
    return absl::FailedPreconditionError(
        StrCat("systemd put jail ", jail, "'s init (pid ", pid, ") in cgroup '",
               unified == nullptr ? "" : unified->path, "', not in ", scope));
  }

  // The jail's directory (its limits) and leaf (its processes); the init
  // joins the leaf before it makes its cgroup namespace, so the namespace
  // is rooted there (docs/security.md, "A jail's cgroups").
  const std::string leaf = StrCat(top, "/", kCgroupLeaf);
  JW_RETURN_IF_ERROR(Mkdir(top));
  JW_RETURN_IF_ERROR(Mkdir(leaf));
  JW_RETURN_IF_ERROR(WriteOnce(leaf + "/cgroup.procs", StrCat(pid)));
  // The scope's own cgroup now has no process: the kernel lets its
  // subtree_control pass on what the slice offers (v2's "no internal
  // processes" rule), and the unit of the daemon never gets one.
  JW_RETURN_IF_ERROR(EnableOfferedControllers(scope).status());
  return absl::OkStatus();
}

absl::Status RemoveJailScope(JailScopeManager& scopes,
                             const std::map<std::string, std::string>& backend_state) {
  const std::string unit = Get(backend_state, kScopeUnitKey);
  if (unit.empty()) {
    return absl::OkStatus();
  }
  // An empty scope is stopped and collected by systemd itself (it watches
  // cgroup.events): no job to wait for. That matters at shutdown, where a
  // StopUnit would join the scope's queued stop job, which waits for the
  // daemon's unit (Before=) and so for this very call.
  absl::StatusOr<std::string> events = ReadFile(Get(backend_state, kScopeCgroupKey) + "/cgroup.events");
  if (!events.ok() || events->find("populated 1") == std::string::npos) {
    return absl::OkStatus();
  }
  return scopes.StopScope(unit, kScopeStopTimeout);
}

}  // namespace jailwarden::platform
