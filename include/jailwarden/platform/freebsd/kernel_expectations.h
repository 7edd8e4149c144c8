#pragma once

// What FakeFreeBsdKernel assumes the FreeBSD kernel answers, one row per
// probe `jailwarden selftest` makes on FreeBSD (src/selftest/
// freebsd_selftest.cc). The one table both sides read: the selftest prints
// each row beside what the running kernel answered, and a test
// (tests/selftest/selftest_test.cc) runs the same probes against the fake
// and requires every row to match, so the fake and the table cannot drift.
// A row that differs on a real kernel is a fact the fake has wrong.
//
// Placeholders in `input` and `output`: {name} is the throwaway jail's
// name, {jid} its jid, {missing} a jail name that does not exist.
//
// Constant data: thread-safe.

#include <span>
#include <string_view>

namespace jailwarden::platform {

enum class ExpectOutput : unsigned char {
  kAny,       // the call's text is not checked
  kContains,  // the text contains `output`
  kEquals,    // the text is exactly `output`
};

struct KernelExpectation {
  std::string_view id;     // stable key, e.g. "rctl_add_rule.unknown_resource"
  std::string_view call;   // the seam call, as the selftest makes it
  std::string_view input;  // its arguments
  // 0: the call succeeds (returns 0 or a jid); otherwise the errno name it
  // fails with ("EEXIST").
  std::string_view error;
  ExpectOutput match = ExpectOutput::kAny;
  // Expected output: rctl's buffer, jail_errmsg, a jail_getv value or a
  // sysctl value, as text.
  std::string_view output;
  std::string_view source;  // where the expectation comes from
};

// Every row, in the order the selftest probes.
std::span<const KernelExpectation> FreeBsdKernelExpectations();

// The row with `id`; nullptr if none (a programming error in the selftest).
const KernelExpectation* FindKernelExpectation(std::string_view id);

}  // namespace jailwarden::platform
