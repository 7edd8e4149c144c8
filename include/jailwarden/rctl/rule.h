#pragma once

// RCTL subjects, actions and the rule value type (sys/sys/rctl.h;
// ../shared/reference/freebsd-rctl.md §6.2, §6.3).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jailwarden/rctl/resource.h"

namespace jailwarden::rctl {

// RCTL_SUBJECT_TYPE_* values. 2 is unused; there is no group subject.
enum class SubjectType : int8_t {
  kUndefined = -1,
  kProcess = 0,
  kUser = 1,
  kLoginclass = 3,
  kJail = 4,
};

inline constexpr std::array<SubjectType, 4> kAllSubjectTypes = {
    SubjectType::kProcess, SubjectType::kUser, SubjectType::kLoginclass,
    SubjectType::kJail};

// "process", "user", "loginclass", "jail"; "" for kUndefined.
std::string_view SubjectTypeName(SubjectType s);
// Case-insensitive; nullopt for anything else (including "group").
std::optional<SubjectType> ParseSubjectTypeName(std::string_view name);

// RCTL_ACTION_*: a signal action's value is its FreeBSD signal number.
enum class Action : int8_t {
  kUndefined = -1,
  kSighup = 1,
  kSigint = 2,
  kSigquit = 3,
  kSigill = 4,
  kSigtrap = 5,
  kSigabrt = 6,
  kSigemt = 7,
  kSigfpe = 8,
  kSigkill = 9,
  kSigbus = 10,
  kSigsegv = 11,
  kSigsys = 12,
  kSigpipe = 13,
  kSigalrm = 14,
  kSigterm = 15,
  kSigurg = 16,
  kSigstop = 17,
  kSigtstp = 18,
  // 19 is SIGCONT, which rctl does not accept.
  kSigchld = 20,
  kSigttin = 21,
  kSigttou = 22,
  kSigio = 23,
  kSigxcpu = 24,
  kSigxfsz = 25,
  kSigvtalrm = 26,
  kSigprof = 27,
  kSigwinch = 28,
  kSiginfo = 29,
  kSigusr1 = 30,
  kSigusr2 = 31,
  kSigthr = 32,
  kDeny = 33,
  kLog = 34,
  kDevctl = 35,
  kThrottle = 36,
};

inline constexpr std::size_t kActionCount = 35;  // 31 signals + 4
// Every action in the kernel's actionnames[] order (the 31 signals, then
// deny, log, devctl, throttle).
const std::array<Action, kActionCount>& AllActions();

// "sighup", ..., "deny", "log", "devctl", "throttle"; "" for kUndefined.
std::string_view ActionName(Action a);
// Case-insensitive; nullopt for an unknown name (including "sigcont").
std::optional<Action> ParseActionName(std::string_view name);
// True for the 31 signal actions.
bool IsSignalAction(Action a);
// The FreeBSD signal number of a signal action (equal to its value).
inline int FreeBsdSignalNumber(Action a) { return static_cast<int>(a); }
// The host (Linux) signal with the same meaning, or -1 where the host has
// none (SIGEMT, SIGINFO, SIGTHR map to -1; SIGINFO's nearest is SIGPWR but
// meaning differs, so we do not pretend).
int HostSignalNumber(Action a);

// RCTL_AMOUNT_UNDEFINED.
inline constexpr int64_t kAmountUndefined = -1;

// One rule or filter. An undefined field is a wildcard in a filter.
// `amount` is in kernel scale: ×10^6 for IN_MILLIONS resources.
// `subject_id` is the storage form: decimal digits for process and user
// (as the kernel prints pid/uid), the name for loginclass and jail, "" when
// undefined.
struct Rule {
  SubjectType subject = SubjectType::kUndefined;
  std::string subject_id;
  std::optional<Resource> resource;
  Action action = Action::kUndefined;
  int64_t amount = kAmountUndefined;
  SubjectType per = SubjectType::kUndefined;

  friend bool operator==(const Rule&, const Rule&) = default;

  // rctl_rule_fully_specified: every field defined.
  bool FullySpecified() const;
  // The amount as rctl(8) shows it (divided by 10^6 for IN_MILLIONS
  // resources, truncating). kAmountUndefined stays undefined.
  int64_t UserAmount() const;
  // For process and user subjects with an id: the numeric pid/uid.
  std::optional<int64_t> SubjectNumber() const;
};

}  // namespace jailwarden::rctl
