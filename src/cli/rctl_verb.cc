#include "cli/rctl_verb.h"

#include <sysexits.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <ostream>

#include "cli/common.h"
#include "jailwarden/base/absl_compat.h"
#include "nlohmann/json.hpp"
#include "jailwarden/api/client.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/rctl_command.h"

namespace jailwarden::cli {
namespace {

constexpr char kProgram[] = "jailwarden rctl";

constexpr char kHelp[] =
    R"(usage: jailwarden rctl [-h] [-n] [filter ...]
       jailwarden rctl -a rule ...
       jailwarden rctl -l [-h] [-n] filter ...
       jailwarden rctl -r filter ...
       jailwarden rctl -u [-h] filter ...
       jailwarden rctl --check [-f FILE] [rule ...]
       jailwarden rctl --fidelity [filter]

Display and update the resource limits database, exactly as rctl(8):
  -a   add each rule          -l   show limits applying to a process
  -r   remove matching rules  -u   show resource usage of a subject
  -h   human-readable amounts -n   numeric user ids
Rules: subject:subject-id:resource:action=amount[/per], for example
  jailwarden rctl -a jail:www:memoryuse:deny=512m
  jailwarden rctl -hu jail:www

Talks to the jailwarden daemon, which holds the rule database the kernel
would (on Linux there is none in the kernel): the policy's jail limits and
rules are there, and rules added here take effect on running jails at once.
-c/--config FILE, --server/--address URL, --token TOKEN, --token-file FILE,
--cacert FILE and --pin PIN choose the daemon as for the other verbs (give
them before the verb, before the rctl flags or after them).
--json prints one JSON document: with -a, -r, -u or -l
{"op": "add|remove|usage|limits", "results": [{"rule" or "filter", "ok",
"error", "usage" or "rules"}, ...]} (amounts always plain numbers); without
them the rules with their fidelity, as --fidelity shows them.
--fidelity lists the matching rules with how this host enforces each
(exact, approximate, sampled, unsupported), the mechanism and what differs.

--check parses each rule as rctl(8) would, validates it as the kernel's
rctl_add_rule(2) would, and prints its kernel storage form (one per line)
or rctl(8)'s error. Rules come from the arguments and, with -f, from FILE
(one per line, '#' starts a comment). The exit status is the number of
rules that failed, as rctl(8)'s.
)";

int RunCheck(std::vector<std::string> args, CommandContext& ctx) {
  std::vector<std::string> rules;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-f") {
      if (i + 1 >= args.size()) {
        ctx.err << kProgram << ": -f needs a file name\n";
        return EX_USAGE;
      }
      const std::string path = args[++i];
      std::ifstream in(path);
      if (!in) {
        ctx.err << kProgram << ": cannot open " << path << "\n";
        return EX_NOINPUT;
      }
      std::string line;
      while (std::getline(in, line)) {
        std::string_view text = line;
        if (const std::size_t hash = text.find('#'); hash != text.npos) {
          text = text.substr(0, hash);
        }
        text = StripWhitespace(text);
        if (!text.empty()) rules.emplace_back(text);
      }
    } else {
      rules.push_back(args[i]);
    }
  }
  if (rules.empty()) {
    ctx.err << kProgram << ": --check needs at least one rule\n";
    return EX_USAGE;
  }
  return rctl::RunRctlCheck(rules, kProgram, nullptr, ctx.out, ctx.err);
}

// Stands between rctl(8)'s front end and the daemon for --json: passes
// every call through and records it, so the document says what each
// argument did, in the front end's own expansion of it.
class RecordingBackend : public rctl::RctlBackend {
 public:
  explicit RecordingBackend(rctl::RctlBackend& inner) : inner_(inner) {}

  absl::Status AddRule(std::string_view rule) override {
    absl::Status s = inner_.AddRule(rule);
    Record("add", "rule", rule, s);
    return s;
  }
  absl::Status RemoveRule(std::string_view filter) override {
    absl::Status s = inner_.RemoveRule(filter);
    Record("remove", "filter", filter, s);
    return s;
  }
  absl::StatusOr<std::string> GetRules(std::string_view filter) override {
    absl::StatusOr<std::string> r = inner_.GetRules(filter);
    Record("rules", "filter", filter, r.status())["rules"] = List(r);
    return r;
  }
  absl::StatusOr<std::string> GetLimits(std::string_view filter) override {
    absl::StatusOr<std::string> r = inner_.GetLimits(filter);
    Record("limits", "filter", filter, r.status())["rules"] = List(r);
    return r;
  }
  absl::StatusOr<std::string> GetRacct(std::string_view filter) override {
    absl::StatusOr<std::string> r = inner_.GetRacct(filter);
    nlohmann::json usage = nlohmann::json::object();
    if (r.ok()) {
      for (std::string_view pair : Split(*r, ',')) {
        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view value = pair.substr(eq + 1);
        const std::optional<int64_t> n = ParseInt<int64_t>(value);
        usage[std::string(pair.substr(0, eq))] =
            n.has_value() ? nlohmann::json(*n) : nlohmann::json(std::string(value));
      }
    }
    Record("usage", "filter", filter, r.status())["usage"] = std::move(usage);
    return r;
  }
  std::string EnosysMessage() const override { return inner_.EnosysMessage(); }

  // The one document; null when no call was made (a usage error).
  nlohmann::json Document() const {
    if (results_.empty()) return nullptr;
    return {{"op", op_}, {"results", results_}};
  }

 private:
  nlohmann::json& Record(std::string_view op, std::string_view key, std::string_view text,
                         const absl::Status& s) {
    op_ = std::string(op);
    nlohmann::json r = {{std::string(key), std::string(text)}, {"ok", s.ok()}};
    if (!s.ok()) r["error"] = std::string(s.message());
    results_.push_back(std::move(r));
    return results_.back();
  }
  static nlohmann::json List(const absl::StatusOr<std::string>& r) {
    nlohmann::json list = nlohmann::json::array();
    if (r.ok()) {
      for (std::string_view rule : Split(*r, ',')) {
        if (!rule.empty()) list.push_back(std::string(rule));
      }
    }
    return list;
  }

  rctl::RctlBackend& inner_;
  std::string op_;
  nlohmann::json results_ = nlohmann::json::array();
};

// The command line as a CLI11 app, only to describe it (completion).
bool DescribeRctl() {
  CLI::App app("rctl", kProgram);
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  const std::string what = "rctl(8)'s flag";
  for (const char* f : {"-a", "-l", "-r", "-u", "-n", "--check", "--fidelity"}) {
    app.add_flag(std::string(f), what);
  }
  std::string file;
  app.add_option("-f", file, "--check: read rules from FILE");
  return RecordShape(app);
}

// An rctl(8) argument that selects a mode: a flag cluster with a, l, r or u.
bool SelectsMode(std::string_view arg) {
  return arg.size() > 1 && arg[0] == '-' && arg[1] != '-' &&
         arg.find_first_of("alru") != std::string_view::npos;
}

}  // namespace

int RunRctlVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  for (const std::string& a : args) {
    if (a == "--help") {
      if (DescribeRctl()) return EX_OK;
      ctx.out << kHelp;
      return EX_OK;
    }
  }
  // Our options may sit anywhere before "--"; the rest is rctl(8)'s. The
  // global ones may come first (jailwarden -c FILE rctl --check ...).
  ConnectionFlags flags;
  bool fidelity = false, check = false;
  std::vector<std::string> rctl_args;
  bool operands_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (check && !StartsWith(a, "--")) {  // --check's own arguments, -f included
      rctl_args.push_back(a);
      continue;
    }
    if (operands_only || (!StartsWith(a, "--") && a != "-c") || a == "--") {
      if (a == "--") operands_only = true;
      rctl_args.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (const std::size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    std::string* dst = name == "--server" || name == "--address" ? &flags.server
                       : name == "--token"                      ? &flags.token
                       : name == "--token-file"                 ? &flags.token_file
                       : name == "--config" || name == "-c"     ? &flags.config
                       : name == "--cacert"                     ? &flags.cacert
                       : name == "--pin"                        ? &flags.pin
                                                                : nullptr;
    if (dst != nullptr) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          ctx.err << kProgram << ": " << name << " needs a value\n";
          return EX_USAGE;
        }
        value = args[++i];
      }
      *dst = value;
    } else if (name == "--fidelity" && !has_value) {
      fidelity = true;
    } else if (name == "--json" && !has_value) {
      flags.json = true;
    } else if (name == "--check" && !has_value) {
      check = true;
    } else {
      ctx.err << kProgram << ": unknown option " << name << "\n";
      return EX_USAGE;
    }
  }
  if (check) {
    // Offline: the connection options are accepted (given globally) and
    // not needed; --json has no form here.
    if (flags.json || fidelity) {
      ctx.err << kProgram << ": --check prints storage forms; it takes no "
              << (flags.json ? "--json" : "--fidelity") << "\n";
      return EX_USAGE;
    }
    return RunCheck(rctl_args, ctx);
  }
  const bool mode =
      std::any_of(rctl_args.begin(), rctl_args.end(),
                  [](const std::string& a) { return SelectsMode(a); });
  if (fidelity && mode) {
    ctx.err << kProgram << ": --fidelity lists rules; it takes no -a, -l, -r or -u\n";
    return EX_USAGE;
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "rctl", client.status());
  if (fidelity || (flags.json && !mode)) {
    std::string filter = "::";
    for (const std::string& a : rctl_args) {
      if (!StartsWith(a, "-")) filter = a;
    }
    absl::StatusOr<std::vector<api::RuleInfo>> rules =
        client->RulesWithFidelity(filter);
    if (!rules.ok()) {
      ctx.err << kProgram << ": failed to show rules for '" << filter
              << "': " << rules.status().message() << "\n";
      return 1;
    }
    if (flags.json) {
      PrintJson(ctx, client->last_body());
      return EX_OK;
    }
    for (const api::RuleInfo& r : *rules) {
      ctx.out << r.rule << "\t" << r.fidelity << "\t"
              << (r.mechanism.empty() ? "-" : r.mechanism);
      if (!r.detail.empty()) ctx.out << "\t" << r.detail;
      ctx.out << "\n";
    }
    return EX_OK;
  }
  api::RctlClientBackend backend(*client);
  rctl::RctlInvocation inv;
  inv.args = rctl_args;
  inv.program = kProgram;
  if (!flags.json) return rctl::RunRctl(inv, backend, ctx.out, ctx.err);
  RecordingBackend recording(backend);
  std::ostringstream text;  // rctl(8)'s text; the document replaces it
  const int status = rctl::RunRctl(inv, recording, text, ctx.err);
  if (const nlohmann::json doc = recording.Document(); !doc.is_null()) {
    ctx.out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return status;
}

}  // namespace jailwarden::cli
