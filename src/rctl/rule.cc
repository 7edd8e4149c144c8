#include "jailwarden/rctl/rule.h"

#include <signal.h>
#include <strings.h>

#include "jailwarden/base/strings.h"

namespace jailwarden::rctl {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         strncasecmp(a.data(), b.data(), a.size()) == 0;
}

struct ActionEntry {
  Action action;
  std::string_view name;
  int host_signal;  // -1: the host has no such signal
};

// actionnames[] in sys/kern/kern_rctl.c: the signals in number order
// (sigcont excluded), then deny, log, devctl, throttle.
constexpr std::array<ActionEntry, kActionCount> kActions = {{
    {Action::kSighup, "sighup", SIGHUP},
    {Action::kSigint, "sigint", SIGINT},
    {Action::kSigquit, "sigquit", SIGQUIT},
    {Action::kSigill, "sigill", SIGILL},
    {Action::kSigtrap, "sigtrap", SIGTRAP},
    {Action::kSigabrt, "sigabrt", SIGABRT},
    {Action::kSigemt, "sigemt", -1},
    {Action::kSigfpe, "sigfpe", SIGFPE},
    {Action::kSigkill, "sigkill", SIGKILL},
    {Action::kSigbus, "sigbus", SIGBUS},
    {Action::kSigsegv, "sigsegv", SIGSEGV},
    {Action::kSigsys, "sigsys", SIGSYS},
    {Action::kSigpipe, "sigpipe", SIGPIPE},
    {Action::kSigalrm, "sigalrm", SIGALRM},
    {Action::kSigterm, "sigterm", SIGTERM},
    {Action::kSigurg, "sigurg", SIGURG},
    {Action::kSigstop, "sigstop", SIGSTOP},
    {Action::kSigtstp, "sigtstp", SIGTSTP},
    {Action::kSigchld, "sigchld", SIGCHLD},
    {Action::kSigttin, "sigttin", SIGTTIN},
    {Action::kSigttou, "sigttou", SIGTTOU},
    {Action::kSigio, "sigio", SIGIO},
    {Action::kSigxcpu, "sigxcpu", SIGXCPU},
    {Action::kSigxfsz, "sigxfsz", SIGXFSZ},
    {Action::kSigvtalrm, "sigvtalrm", SIGVTALRM},
    {Action::kSigprof, "sigprof", SIGPROF},
    {Action::kSigwinch, "sigwinch", SIGWINCH},
    {Action::kSiginfo, "siginfo", -1},
    {Action::kSigusr1, "sigusr1", SIGUSR1},
    {Action::kSigusr2, "sigusr2", SIGUSR2},
    {Action::kSigthr, "sigthr", -1},
    {Action::kDeny, "deny", -1},
    {Action::kLog, "log", -1},
    {Action::kDevctl, "devctl", -1},
    {Action::kThrottle, "throttle", -1},
}};

constexpr std::array<Action, kActionCount> MakeActionList() {
  std::array<Action, kActionCount> out{};
  for (std::size_t i = 0; i < kActions.size(); ++i) out[i] = kActions[i].action;
  return out;
}
constexpr std::array<Action, kActionCount> kActionList = MakeActionList();

const ActionEntry* FindAction(Action a) {
  for (const ActionEntry& e : kActions) {
    if (e.action == a) return &e;
  }
  return nullptr;
}

}  // namespace

std::string_view SubjectTypeName(SubjectType s) {
  switch (s) {
    case SubjectType::kProcess:
      return "process";
    case SubjectType::kUser:
      return "user";
    case SubjectType::kLoginclass:
      return "loginclass";
    case SubjectType::kJail:
      return "jail";
    case SubjectType::kUndefined:
      return "";
  }
  return "";
}

std::optional<SubjectType> ParseSubjectTypeName(std::string_view name) {
  for (SubjectType s : kAllSubjectTypes) {
    if (EqualsIgnoreCase(name, SubjectTypeName(s))) return s;
  }
  return std::nullopt;
}

const std::array<Action, kActionCount>& AllActions() { return kActionList; }

std::string_view ActionName(Action a) {
  const ActionEntry* e = FindAction(a);
  return e == nullptr ? std::string_view() : e->name;
}

std::optional<Action> ParseActionName(std::string_view name) {
  for (const ActionEntry& e : kActions) {
    if (EqualsIgnoreCase(name, e.name)) return e.action;
  }
  return std::nullopt;
}

bool IsSignalAction(Action a) {
  const int v = static_cast<int>(a);
  return v >= 1 && v <= 32 && v != 19;
}

int HostSignalNumber(Action a) {
  const ActionEntry* e = FindAction(a);
  return e == nullptr ? -1 : e->host_signal;
}

bool Rule::FullySpecified() const {
  return subject != SubjectType::kUndefined && !subject_id.empty() &&
         resource.has_value() && action != Action::kUndefined &&
         amount != kAmountUndefined && per != SubjectType::kUndefined;
}

int64_t Rule::UserAmount() const {
  if (amount == kAmountUndefined || !resource.has_value() ||
      !IsInMillions(*resource)) {
    return amount;
  }
  return amount / 1000000;
}

std::optional<int64_t> Rule::SubjectNumber() const {
  if (subject != SubjectType::kProcess && subject != SubjectType::kUser) {
    return std::nullopt;
  }
  return ParseInt<int64_t>(subject_id);
}

}  // namespace jailwarden::rctl
