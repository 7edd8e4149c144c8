#pragma once

// JailScopeManager over systemd's D-Bus API (org.freedesktop.systemd1,
// sd-bus from libsystemd). Built into its own library,
// jw_platform_systemd, so that only the daemon links libsystemd (not
// jailwarden-oci, whose start-up cost is measured in bench/README.md).

#include <memory>

#include "absl/status/statusor.h"
#include "jailwarden/platform/linux/jail_scopes.h"

namespace jailwarden::platform {

// Connects once to check that systemd answers: the system bus first, then
// systemd's own socket /run/systemd/private (root only; no dbus-daemon
// needed), as systemctl does. Each later call opens its own connection,
// so the manager survives `systemctl daemon-reexec` and is thread-safe.
// Scopes are ordered Before= the daemon's own unit when it runs in one,
// so at shutdown systemd stops jailwarden.service (and, with
// --stop-jails-on-exit, the jails in jail(8) order) before the scopes.
// Errors: Unavailable naming both connection attempts' errno.
absl::StatusOr<std::shared_ptr<JailScopeManager>> NewSystemdJailScopes();

}  // namespace jailwarden::platform
