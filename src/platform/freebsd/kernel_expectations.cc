// The rows of FreeBsdKernelExpectations(): each is what FakeFreeBsdKernel
// does and what ../shared/reference/freebsd-rctl.md says the kernel does.

#include "jailwarden/platform/freebsd/kernel_expectations.h"

#include <array>

namespace jailwarden::platform {
namespace {

using E = ExpectOutput;

constexpr std::array kRows = {
    KernelExpectation{"sysctl.racct_enable", "sysctlbyname", "kern.racct.enable", "",
                      E::kEquals, "1", "§1, §10: RACCT on (boot tunable)"},
    KernelExpectation{"sysctl.jailed", "sysctlbyname", "security.jail.jailed", "",
                      E::kEquals, "0", "kern_jail.c: 0 on the host"},
    KernelExpectation{"jail_setv.create", "jail_setv(JAIL_CREATE)",
                      "name={name} path=/ host.hostname={name} ip4=disable "
                      "ip6=disable persist",
                      "", E::kAny, "", "§11.1: returns the new jid"},
    KernelExpectation{"jail_setv.create_again", "jail_setv(JAIL_CREATE)",
                      "name={name} path=/ persist", "EEXIST", E::kEquals,
                      "jail \"{name}\" already exists", "§11.2, kern_jail.c"},
    KernelExpectation{"jail_setv.unknown_parameter", "jail_setv(JAIL_CREATE)",
                      "name={missing} path=/ jailwarden.nosuch=1", "ENOENT",
                      E::kContains, "unknown parameter: jailwarden.nosuch",
                      "libjail jailparam_init"},
    KernelExpectation{"jail_setv.non_integer", "jail_setv(JAIL_CREATE)",
                      "name={missing} path=/ children.max=x", "EINVAL", E::kContains,
                      "non-integer value", "libjail jailparam_import"},
    KernelExpectation{"jail_getv.by_name", "jail_getv", "name={name} jid path", "",
                      E::kEquals, "jid={jid} path=/", "§11.1"},
    KernelExpectation{"jail_getv.missing", "jail_getv", "name={missing} jid", "ENOENT",
                      E::kEquals, "jail \"{missing}\" not found", "kern_jail.c"},
    KernelExpectation{"jail_attach.command", "fork + jail_attach + execvp",
                      "jid={jid} /usr/bin/true", "", E::kEquals, "exit 0",
                      "usr.sbin/jail/command.c run_command"},
    KernelExpectation{"jail_attach.missing", "jail_attach", "-1", "EINVAL", E::kAny,
                      "", "jail_attach(2): no such jail"},
    KernelExpectation{"rctl_add_rule.deny", "rctl_add_rule",
                      "jail:{name}:maxproc:deny=1000", "", E::kAny, "", "§8.3"},
    KernelExpectation{"rctl_get_rules.jail", "rctl_get_rules", "jail:{name}", "",
                      E::kEquals, "jail:{name}:maxproc:deny=1000", "§8.4"},
    KernelExpectation{"rctl_add_rule.unknown_resource", "rctl_add_rule",
                      "jail:{name}:nosuch:deny=1", "EINVAL", E::kAny, "", "§6.1"},
    KernelExpectation{"rctl_add_rule.unit_suffix", "rctl_add_rule",
                      "jail:{name}:maxproc:deny=1k", "EINVAL", E::kAny, "",
                      "§6.1: no unit suffixes in the kernel"},
    KernelExpectation{"rctl_add_rule.negative_amount", "rctl_add_rule",
                      "jail:{name}:maxproc:deny=-1", "ERANGE", E::kAny, "", "§6.1"},
    KernelExpectation{"rctl_add_rule.not_fully_specified", "rctl_add_rule",
                      "jail:{name}:maxproc", "EINVAL", E::kAny, "", "§6.4"},
    KernelExpectation{"rctl_add_rule.deny_readbps", "rctl_add_rule",
                      "jail:{name}:readbps:deny=1000", "EOPNOTSUPP", E::kAny, "",
                      "§6.5 (1)"},
    KernelExpectation{"rctl_add_rule.throttle_maxproc", "rctl_add_rule",
                      "jail:{name}:maxproc:throttle=10", "EOPNOTSUPP", E::kAny, "",
                      "§6.5 (2)"},
    KernelExpectation{"rctl_get_racct.jail", "rctl_get_racct", "jail:{name}", "",
                      E::kContains, "maxproc=", "§8.5"},
    KernelExpectation{"rctl_get_racct.no_id", "rctl_get_racct", "jail:", "EINVAL",
                      E::kAny, "", "§8.3"},
    KernelExpectation{"rctl_get_racct.small_buffer", "rctl_get_racct",
                      "jail:{name} (outbuflen 8)", "ERANGE", E::kAny, "", "§8.2 (5)"},
    KernelExpectation{"rctl_get_limits.jail", "rctl_get_limits", "jail:{name}",
                      "EOPNOTSUPP", E::kAny, "", "§8.3"},
    KernelExpectation{"rctl_remove_rule.jail", "rctl_remove_rule", "jail:{name}", "",
                      E::kAny, "", "§8.3"},
    KernelExpectation{"rctl_get_rules.after_remove", "rctl_get_rules", "jail:{name}",
                      "", E::kEquals, "", "§8.3"},
    KernelExpectation{"rctl_remove_rule.none", "rctl_remove_rule",
                      "jail:{name}:maxproc", "ESRCH", E::kAny, "",
                      "§8.3: no rule matched"},
    KernelExpectation{"kinfo_getallproc", "kinfo_getallproc", "", "", E::kAny, "",
                      "libutil: every process"},
    KernelExpectation{"jail_remove", "jail_remove", "{jid}", "", E::kAny, "",
                      "jail_remove(2)"},
    KernelExpectation{"jail_remove.again", "jail_remove", "{jid}", "EINVAL", E::kAny, "",
                      "jail_remove(2): no such jail"},
    KernelExpectation{"jail_getv.removed", "jail_getv", "jid={jid} name", "ENOENT",
                      E::kEquals, "jail {jid} not found", "kern_jail.c"},
};

}  // namespace

std::span<const KernelExpectation> FreeBsdKernelExpectations() { return kRows; }

const KernelExpectation* FindKernelExpectation(std::string_view id) {
  for (const KernelExpectation& row : kRows) {
    if (row.id == id) return &row;
  }
  return nullptr;
}

}  // namespace jailwarden::platform
