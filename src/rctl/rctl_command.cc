#include "jailwarden/rctl/rctl_command.h"

#include <cerrno>

#include "jailwarden/base/strings.h"

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::rctl {
namespace {

constexpr char kUsage[] =
    "usage: rctl [ -h ] [-a rule | -l filter | -r filter | -u filter | filter]";

// warn(3): "<program>: <message>: <strerror>".
void Warn(std::ostream& err, std::string_view program, std::string_view message,
          const absl::Status& status) {
  const std::optional<int> e = StatusErrno(status);
  err << program << ": " << message << ": "
      << (e.has_value() ? FreeBsdStrerror(*e) : ToStd(status.message())) << "\n";
}

bool IsEnosys(const absl::Status& status) {
  const std::optional<int> e = StatusErrno(status);
  return e.has_value() && *e == ENOSYS;
}

void PrintRules(std::string_view rules, const DisplayOptions& display,
                std::ostream& out) {
  for (std::string_view rule : Split(rules, ',')) {
    if (rule.empty()) break;  // as print_rules()
    out << DisplayRule(rule, display) << "\n";
  }
}

}  // namespace

RuleSetBackend::RuleSetBackend(RuleSet* rules, ProcessExists process_exists,
                               UsageFn usage)
    : rules_(rules),
      process_exists_(std::move(process_exists)),
      usage_(std::move(usage)) {}

absl::Status RuleSetBackend::AddRule(std::string_view text) {
  JW_ASSIGN_OR_RETURN(Rule rule, ParseRuleForAdd(text, process_exists_));
  return rules_->Add(std::move(rule));
}

absl::Status RuleSetBackend::RemoveRule(std::string_view text) {
  JW_ASSIGN_OR_RETURN(Rule filter, ParseRuleText(text, process_exists_));
  JW_ASSIGN_OR_RETURN(int removed, rules_->Remove(filter));
  (void)removed;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RuleSetBackend::GetRules(std::string_view text) {
  JW_ASSIGN_OR_RETURN(Rule filter, ParseRuleText(text, process_exists_));
  return rules_->ListText(filter);
}

absl::StatusOr<std::string> RuleSetBackend::GetLimits(std::string_view text) {
  JW_ASSIGN_OR_RETURN(Rule filter, ParseRuleText(text, process_exists_));
  if (filter.subject == SubjectType::kUndefined) {
    return ErrnoStatus(EINVAL, "rctl_get_limits: no subject");
  }
  if (filter.subject != SubjectType::kProcess) {
    return ErrnoStatus(EOPNOTSUPP, "rctl_get_limits: subject is not a process");
  }
  if (filter.subject_id.empty()) {
    return ErrnoStatus(EINVAL, "rctl_get_limits: no pid");
  }
  // Without a process table only the process's own rules are known here;
  // backends that know credentials and jails override this.
  Rule own;
  own.subject = SubjectType::kProcess;
  own.subject_id = filter.subject_id;
  return rules_->ListText(own);
}

absl::StatusOr<std::string> RuleSetBackend::GetRacct(std::string_view text) {
  JW_ASSIGN_OR_RETURN(Rule filter, ParseRuleText(text, process_exists_));
  if (filter.subject == SubjectType::kUndefined || filter.subject_id.empty()) {
    return ErrnoStatus(EINVAL, "rctl_get_racct: subject and id required");
  }
  if (usage_) return usage_(filter);
  return FormatUsage(UsageVector{}, filter.subject);
}

int RunRctl(const RctlInvocation& inv, RctlBackend& backend, std::ostream& out,
            std::ostream& err) {
  bool aflag = false, hflag = false, lflag = false, nflag = false,
       rflag = false, uflag = false;
  // getopt(argc, argv, "ahlnru"): options until the first non-option or
  // "--"; grouped letters allowed.
  std::size_t i = 0;
  for (; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (std::size_t k = 1; k < a.size(); ++k) {
      switch (a[k]) {
        case 'a':
          aflag = true;
          break;
        case 'h':
          hflag = true;
          break;
        case 'l':
          lflag = true;
          break;
        case 'n':
          nflag = true;
          break;
        case 'r':
          rflag = true;
          break;
        case 'u':
          uflag = true;
          break;
        default:
          err << inv.program << ": illegal option -- " << a[k] << "\n"
              << kUsage << "\n";
          return 1;
      }
    }
  }
  const std::vector<std::string> operands(inv.args.begin() + static_cast<long>(i),
                                          inv.args.end());
  const int modes = int{aflag} + int{lflag} + int{rflag} + int{uflag};
  if (modes > 1) {
    err << inv.program << ": at most one of -a, -l, -r, or -u may be specified\n";
    return 1;
  }
  const DisplayOptions display{hflag, nflag, inv.resolver};
  if (operands.empty()) {
    if (modes == 0) {
      absl::StatusOr<std::string> rules = backend.GetRules("::");
      if (!rules.ok()) {
        if (IsEnosys(rules.status())) {
          err << inv.program << ": " << backend.EnosysMessage() << "\n";
          return 1;
        }
        Warn(err, inv.program, "failed to show rules for '::'", rules.status());
        return 0;  // rctl(8) returns 0 here whatever show_rules did
      }
      PrintRules(*rules, display, out);
      return 0;
    }
    err << kUsage << "\n";
    return 1;
  }

  int failed = 0;
  for (const std::string& unexpanded : operands) {
    // -n disables name resolution only together with -a.
    ExpandOptions expand{!(aflag && nflag), inv.resolver};
    absl::StatusOr<std::string> rule = ExpandRule(unexpanded, expand);
    if (!rule.ok()) {
      err << inv.program << ": malformed rule '" << unexpanded
          << "': " << rule.status().message() << "\n";
      ++failed;
      continue;
    }
    absl::Status status;
    std::string what;
    if (aflag) {
      status = backend.AddRule(*rule);
      what = "failed to add rule";
    } else if (lflag) {
      absl::StatusOr<std::string> r = backend.GetLimits(*rule);
      status = r.status();
      if (r.ok()) PrintRules(*r, display, out);
      what = "failed to get limits for";
    } else if (rflag) {
      status = backend.RemoveRule(*rule);
      what = "failed to remove rule";
    } else if (uflag) {
      absl::StatusOr<std::string> r = backend.GetRacct(*rule);
      status = r.status();
      if (r.ok()) {
        for (std::string_view pair : Split(*r, ',')) {
          if (pair.empty()) break;
          out << DisplayUsagePair(pair, hflag) << "\n";
        }
      }
      what = "failed to show resource consumption for";
    } else {
      absl::StatusOr<std::string> r = backend.GetRules(*rule);
      status = r.status();
      if (r.ok()) PrintRules(*r, display, out);
      what = "failed to show rules for";
    }
    if (!status.ok()) {
      if (IsEnosys(status)) {
        err << inv.program << ": " << backend.EnosysMessage() << "\n";
        return 1;  // enosys() exits 1
      }
      Warn(err, inv.program, StrCat(what, " '", unexpanded, "'"), status);
      ++failed;
    }
  }
  return failed;
}

int RunRctlCheck(const std::vector<std::string>& rules, std::string_view program,
                 const NameResolver* resolver, std::ostream& out,
                 std::ostream& err) {
  int failed = 0;
  for (const std::string& unexpanded : rules) {
    absl::StatusOr<std::string> text = ExpandRule(unexpanded, {true, resolver});
    if (!text.ok()) {
      err << program << ": malformed rule '" << unexpanded
          << "': " << text.status().message() << "\n";
      ++failed;
      continue;
    }
    absl::StatusOr<Rule> rule = ParseRuleForAdd(*text);
    if (!rule.ok()) {
      Warn(err, program, StrCat("failed to add rule '", unexpanded, "'"),
           rule.status());
      ++failed;
      continue;
    }
    out << FormatRule(*rule) << "\n";
  }
  return failed;
}

}  // namespace jailwarden::rctl
