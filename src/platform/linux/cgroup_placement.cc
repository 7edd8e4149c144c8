#include "jailwarden/platform/linux/cgroup_placement.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/proc_cgroup.h"

namespace jailwarden::platform {
namespace {

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// "<what>: EBUSY (Device or resource busy)".
absl::Status Errno(int err, std::string_view what) {
  return ErrnoStatusWithMessage(err, StrCat(what, ": ", ErrnoName(err), " (", strerror(err), ")"));
}

absl::StatusOr<std::string> ReadSmall(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Errno(errno, StrCat("open ", path));
  }
  std::string out;
  char buf[4096];
  for (int i = 0; i < 64; ++i) {  // cgroup files here are a few lines
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Errno(err, StrCat("read ", path));
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

// One write(2) of `value`, as the kernel's cgroup files expect.
absl::Status WriteOnce(const std::string& path, std::string_view value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Errno(errno, StrCat("open ", path));
  }
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (n < 0) {
    return Errno(err, StrCat("write '", value, "' to ", path));
  }
  return absl::OkStatus();
}

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view t : SplitWhitespace(text)) {
    out.emplace_back(t);
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool Required(std::string_view controller) {
  for (const char* c : kRequiredV2Controllers) {
    if (controller == c) {
      return true;
    }
  }
  return false;
}

// The unified tree's mount under `cgroup_root`, "" when there is none.
std::string UnifiedMount(std::string_view cgroup_root) {
  std::string root(cgroup_root);
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  if (Exists(root + "/cgroup.controllers")) {
    return root;
  }
  if (Exists(root + "/unified/cgroup.controllers")) {
    return root + "/unified";
  }
  return "";
}

// " (other processes in <dir>: 12 34 ...)" for an EBUSY of the rule.
std::string OtherProcesses(const std::string& dir) {
  absl::StatusOr<std::string> procs = ReadSmall(dir + "/cgroup.procs");
  if (!procs.ok()) {
    return "";
  }
  std::vector<std::string> pids = Tokens(*procs);
  if (pids.empty()) {
    return "";
  }
  if (pids.size() > 8) {
    pids.resize(8);
    pids.push_back("...");
  }
  return StrCat(" (processes other than jailwarden are in ", dir, ": ", Join(pids, " "),
                "; the kernel enables controllers only in a cgroup without processes of "
                "its own)");
}

}  // namespace

std::string DaemonCgroupBase(std::string_view own) {
  const std::string suffix = StrCat("/", kDaemonCgroupLeaf);
  if (own.size() > suffix.size() && own.ends_with(suffix)) {
    own.remove_suffix(suffix.size());
  } else if (own == suffix) {
    return "/";
  }
  return std::string(own);
}

absl::StatusOr<std::vector<std::string>> EnableOfferedControllers(const std::string& dir) {
  JW_ASSIGN_OR_RETURN(std::string offered_text, ReadSmall(dir + "/cgroup.controllers"));
  JW_ASSIGN_OR_RETURN(std::string enabled_text, ReadSmall(dir + "/cgroup.subtree_control"));
  const std::vector<std::string> offered = Tokens(offered_text);
  const std::vector<std::string> enabled = Tokens(enabled_text);
  std::vector<std::string> missing;
  for (const std::string& c : offered) {
    if (!Contains(enabled, c)) {
      missing.push_back(c);
    }
  }
  if (!missing.empty()) {
    const std::string file = dir + "/cgroup.subtree_control";
    std::string all;
    for (const std::string& c : missing) {
      StrAppend(&all, all.empty() ? "" : " ", "+", c);
    }
    if (!WriteOnce(file, all).ok()) {
      // The kernel takes the line whole or not at all: one by one, so the
      // error names the controller it refused.
      for (const std::string& c : missing) {
        JW_RETURN_IF_ERROR(WriteOnce(file, StrCat("+", c)));
      }
    }
  }
  return offered;
}

absl::StatusOr<DaemonCgroupPlacement> PlaceDaemonCgroup(std::string_view cgroup_root,
                                                        std::string_view proc_self_cgroup,
                                                        pid_t pid) {
  JW_ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> entries, ParseProcCgroup(proc_self_cgroup));
  DaemonCgroupPlacement out;
  const ProcCgroupEntry* unified = FindCgroupEntry(entries, "");
  const std::string mount = UnifiedMount(cgroup_root);
  if (unified == nullptr || mount.empty()) {
    return out;  // v1-only: nothing to place
  }
  const std::string base = DaemonCgroupBase(unified->path);
  out.base_dir = base == "/" ? mount : mount + base;
  if (!Exists(out.base_dir + "/cgroup.type")) {
    // The root cgroup: may hold processes and controllers at once, and
    // its subtree_control is the host's, not ours.
    return out;
  }
  JW_ASSIGN_OR_RETURN(std::string offered_text, ReadSmall(out.base_dir + "/cgroup.controllers"));
  const std::vector<std::string> offered = Tokens(offered_text);
  bool required = false;
  for (const std::string& c : offered) {
    required = required || Required(c);
  }

  // 1. Into the leaf, every thread at once (cgroup.procs).
  const std::string leaf = out.base_dir + "/" + kDaemonCgroupLeaf;
  // Written also when already there: moving into one's own cgroup is a
  // no-op for the kernel.
  absl::Status moved = mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST
                           ? Errno(errno, StrCat("mkdir ", leaf))
                           : WriteOnce(leaf + "/cgroup.procs", StrCat(pid));
  if (!moved.ok()) {
    if (required) {
      return moved;
    }
    out.warnings.push_back(StrCat("jailwarden stays in ", out.base_dir, ": ", std::string(moved.message())));
    return out;
  }
  out.leaf_dir = leaf;

  // 2. The controllers, for the jails' cgroups beside the leaf.
  const std::string file = out.base_dir + "/cgroup.subtree_control";
  JW_ASSIGN_OR_RETURN(std::string enabled_text, ReadSmall(file));
  std::vector<std::string> enabled = Tokens(enabled_text);
  std::vector<std::string> missing;
  for (const std::string& c : offered) {
    if (!Contains(enabled, c)) {
      missing.push_back(c);
    }
  }
  std::string all;
  for (const std::string& c : missing) {
    StrAppend(&all, all.empty() ? "" : " ", "+", c);
  }
  if (!missing.empty() && WriteOnce(file, all).ok()) {
    enabled.insert(enabled.end(), missing.begin(), missing.end());
  } else {
    for (const std::string& c : missing) {
      absl::Status st = WriteOnce(file, StrCat("+", c));
      if (st.ok()) {
        enabled.push_back(c);
        continue;
      }
      std::string why(st.message());
      if (StatusErrno(st) == EBUSY) {
        why += OtherProcesses(out.base_dir);
      }
      if (Required(c)) {
        return ErrnoStatusWithMessage(StatusErrno(st).value_or(EIO),
                                      StrCat("enabling the ", c, " controller: ", why));
      }
      out.warnings.push_back(StrCat("the ", c, " controller stays off for jails: ", why));
    }
  }
  for (const std::string& c : offered) {
    if (Contains(enabled, c)) {
      out.enabled.push_back(c);
    }
  }
  return out;
}

}  // namespace jailwarden::platform
