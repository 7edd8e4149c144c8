#pragma once

// Where the daemon itself sits in the unified (v2) cgroup tree, so that
// the jails' cgroups below its own cgroup can get controllers.
//
// The v2 "no internal processes" rule: a non-root cgroup with processes
// of its own cannot enable a domain controller (cpu, memory, pids, io) in
// its cgroup.subtree_control. Under systemd (Delegate=yes, no
// DelegateSubgroup= before systemd 254) the daemon starts in the unit's
// cgroup, `<base>`. So at start-up it moves itself (cgroup.procs: every
// thread) into the leaf `<base>/supervisor`, then enables in
// `<base>/cgroup.subtree_control` every controller `<base>/cgroup.controllers`
// offers; the jails' cgroups, `<base>/<cgroup_parent>/<name>`, are created
// beside the leaf and get them (CgroupLayout::Create enables them in
// `<cgroup_parent>`). The v1 hierarchies of a hybrid host are not touched.
//
// A daemon that starts inside `<base>/supervisor` (restarted from a shell
// that was in it) keeps `<base>` as its base: CgroupLayout::Detect strips
// the leaf from /proc/self/cgroup the same way (DaemonCgroupBase).
// The root cgroup (no cgroup.type file) is exempt from the rule and is a
// host-wide setting: the daemon is not moved and nothing is enabled there.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

// The daemon's leaf below its own v2 cgroup.
inline constexpr char kDaemonCgroupLeaf[] = "supervisor";

// The controllers jailwarden writes limits with on a v2 tree; failing to
// enable one of these that the cgroup offers is an error, any other
// (hugetlb, rdma, misc, cpuset) only a warning.
inline constexpr const char* kRequiredV2Controllers[] = {"cpu", "io", "memory", "pids"};

// `own` (a cgroup path from /proc/self/cgroup, "/a/b") without a trailing
// "/supervisor" component: the cgroup the daemon was placed in. Pure.
std::string DaemonCgroupBase(std::string_view own);

struct DaemonCgroupPlacement {
  // Absolute directory of the daemon's base cgroup in the unified tree;
  // "" when the host has no unified tree (v1-only).
  std::string base_dir;
  // Where the daemon now runs (base_dir + "/supervisor"); "" when it was
  // not moved (root cgroup, no unified tree, or a move that failed with
  // nothing required: see warnings).
  std::string leaf_dir;
  // Controllers enabled in base_dir/cgroup.subtree_control afterwards (in
  // cgroup.controllers order), including those already enabled.
  std::vector<std::string> enabled;
  // Things not done that the daemon can run without, one sentence each.
  std::vector<std::string> warnings;
};

// Places process `pid` (the daemon, getpid()) per the header comment.
// `cgroup_root` is where the cgroup file systems are mounted
// (/sys/fs/cgroup: a v2 tree there, or a hybrid host's at <root>/unified);
// `proc_self_cgroup` the text of /proc/self/cgroup. Idempotent.
// Errors (nothing further is changed after the failing step):
//   InvalidArgument    — `proc_self_cgroup` does not parse;
//   the errno's status — the leaf cannot be made or joined, or a required
//                        controller cannot be enabled (EBUSY: other
//                        processes remain in base_dir, their pids named),
//                        when the base offers a required controller.
// Not thread-safe against itself; call once, early.
absl::StatusOr<DaemonCgroupPlacement> PlaceDaemonCgroup(std::string_view cgroup_root,
                                                        std::string_view proc_self_cgroup,
                                                        pid_t pid);

// Enables in `dir`/cgroup.subtree_control every controller in
// `dir`/cgroup.controllers not yet enabled there (one write; on failure
// one write per controller so the error names it). Returns the enabled
// list afterwards. For a cgroup without processes of its own (the jails'
// parent). The errno's status naming the file and controller.
absl::StatusOr<std::vector<std::string>> EnableOfferedControllers(const std::string& dir);

}  // namespace jailwarden::platform
