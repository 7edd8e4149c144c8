#pragma once

// `jailwarden selftest`: what this host's kernel answers to the calls the
// backend makes, beside what jailwarden assumes. On FreeBSD every
// FreeBsdKernel seam call is made against the running kernel in a
// throwaway jail and printed next to the row of the shared expectations
// table (platform/freebsd/kernel_expectations.h) that FakeFreeBsdKernel
// follows. On Linux: the namespaces, the cgroup layout, seccomp, openat2,
// and for each of the 25 RCTL resources how a jail-wide rule is enforced
// on this host (exact / approximate / sampled / unsupported), plus, as
// root, a throwaway set of namespaces and a cgroup made and removed.
//
// Functions are not thread-safe with each other (the FreeBSD probes make
// and remove one jail); run one at a time. They report, they do not fail:
// every probe's outcome is a row.

#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/platform/freebsd/kernel.h"
#include "nlohmann/json.hpp"

namespace jailwarden::selftest {

enum class Verdict : unsigned char {
  kMatch,    // the host answered what jailwarden assumes
  kDiffers,  // it did not: the assumption (or the fake) is wrong here
  kInfo,     // a fact about the host with nothing to compare
  kMissing,  // a facility jailwarden needs is absent
};

std::string_view VerdictName(Verdict v);  // "match", "DIFFERS", "info", "MISSING"

struct Row {
  std::string area;      // "jail", "rctl", "namespace", "resource", ...
  std::string check;     // what was asked
  std::string observed;  // what the host answered
  std::string expected;  // what jailwarden (the fake) assumes; "" for info
  Verdict verdict = Verdict::kInfo;
};

struct Report {
  std::string platform;  // "freebsd" or "linux"
  std::string kernel;    // "Linux 6.1.0-..." (kern.ostype/osrelease)
  std::vector<Row> rows;
  int Count(Verdict v) const;
};

struct FreeBsdSelftestOptions {
  // The throwaway jail's name ("" = "jwselftest<pid>"); it must not exist.
  std::string jail_name;
  // The program run in the jail for jail_attach.command.
  std::string true_program = "/usr/bin/true";
};

// Probes `kernel` in the order of FreeBsdKernelExpectations(). The jail it
// creates and the rule it adds are removed before it returns, also when a
// probe in between answers unexpectedly.
Report RunFreeBsdSelftest(platform::FreeBsdKernel& kernel,
                          const FreeBsdSelftestOptions& options = {});

struct LinuxSelftestOptions {
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  // As root: unshare each namespace in a forked child and make (and remove)
  // a cgroup below the one this process runs in.
  bool throwaway_jail = true;
};

// The Linux host's facts. Without root the throwaway jail's rows say so.
Report RunLinuxSelftest(const LinuxSelftestOptions& options = {});

// An aligned text table: AREA CHECK OBSERVED EXPECTED VERDICT, then a
// summary line "N rows: N match, N DIFFERS, N MISSING, N info".
std::string RenderTable(const Report& report);

// {"platform", "kernel", "rows": [{"area","check","observed","expected",
// "verdict"}], "summary": {"match": N, ...}}.
nlohmann::json ToJson(const Report& report);

}  // namespace jailwarden::selftest
