#pragma once

// jailwarden-init's OCI role (init_oci.h): the steps around SetupJail for
// a container created by `jailwarden oci create`. Linked only into the
// static jailwarden-init binary; errors are thrown as SetupError and end in
// the report line the runtime turns into its error.

#include "platform/linux/init_config.h"
#include "platform/linux/init_oci.h"

namespace jailwarden::platform::jail_init {

// Called by SetupJail after the container's mounts, before pivot_root:
// with a hook sync descriptor, the create phase's pause point and the
// createContainer hooks (InitOciProcess::hook_sync_fd). Nothing for a
// native jail or a container without create-phase hooks. Throws
// SetupError naming the failing hook.
void OciBeforePivotRoot(const InitConfig& c);

// Called by SetupJail after the jail's own seccomp filter, before the
// capability drop, inside the container's root: root.readonly, the masked
// and read-only paths, then the OCI profile's compiled seccomp filter.
// Nothing for a native jail. Throws SetupError.
void OciBeforeCapabilityDrop(const InitConfig& c);

// After SetupJail, before the report: parses `c.oci_process` into *p,
// checks cwd and args[0] exist in the container (so `create` fails, not the
// later `start`), and with a console descriptor opens a pty from the
// container's own devpts, sends the master over it (SCM_RIGHTS) and makes
// the pty's peer the controlling terminal and stdio. Throws SetupError.
void PrepareOciProcess(const InitConfig& c, InitOciProcess* p);

// After the report: blocks until `oci start` opens the exec fifo, then
// becomes the container's process (groups, gid, uid, rlimits,
// no_new_privs, cwd, signal mask, descriptors) and execve()s it. Returns
// only on failure, with the exit status to use (127), after writing why to
// stderr.
int ExecOciProcess(const InitOciProcess& p);

}  // namespace jailwarden::platform::jail_init
