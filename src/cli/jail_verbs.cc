#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "cli/exec_interactive.h"
#include "cli/table.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/base/units.h"
// For SpecToJson until it moves to jailwarden/jail/spec_codec.h.
#include "jailwarden/jail/spec_codec.h"
#include "jailwarden/platform/jail_spec.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/user_form.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

// The checks the daemon makes of a new jail's name and -L limits
// (policy/checks.h, the same function and words), made before anything is
// sent. `name` may be empty (run: the daemon picks one).
absl::Status CheckJailFlags(const std::string& name, const std::vector<std::string>& limits) {
  if (!name.empty()) {
    if (std::optional<std::string> why = policy::JailNameProblem(name)) {
      return absl::InvalidArgumentError(ToAbsl(StrCat("jail name '", name, "': ", *why)));
    }
  }
  const std::string subject = name.empty() ? "jail:NAME:" : StrCat("jail:", name, ":");
  std::vector<rctl::Rule> rules;
  std::vector<std::string> texts;
  for (const std::string& limit : limits) {
    const std::string text = StrCat(subject, limit);
    absl::StatusOr<rctl::Rule> rule =
        policy::CheckRule(text, {policy::RuleUse::kJailLimit, true, nullptr});
    if (!rule.ok()) return rule.status();
    rules.push_back(*std::move(rule));
    texts.push_back(text);
  }
  if (std::optional<std::string> dup = policy::DuplicateRuleProblem(rules, texts)) {
    return ErrnoStatusWithMessage(EINVAL, *dup);
  }
  return absl::OkStatus();
}

// What a start/stop/restart/destroy did, in words: the daemon's answer
// says whether anything changed and what the jail was before.
std::string ChangeMessage(std::string_view verb, const api::JailChange& c) {
  if (verb == "start") return c.changed ? "started" : "already running";
  if (verb == "stop") return c.changed ? "stopped" : "already stopped";
  if (verb == "restart") return c.previous == "stopped" ? "was stopped; started" : "restarted";
  return c.previous == "running" ? "stopped and destroyed" : "destroyed";
}

int Lifecycle(const std::vector<std::string>& args, CommandContext& ctx,
              std::string_view verb, std::string_view what) {
  CLI::App app(std::string(what), StrCat("jailwarden ", verb));
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::vector<std::string> names;
  app.add_option("name", names, "jail name(s)")->required();
  bool strict = false;
  if (verb == "start" || verb == "stop") {
    app.add_flag("--strict", strict,
                 StrCat("exit 1 when a jail already was ", verb == "start" ? "running" : "stopped",
                        " (default: say so, exit 0)"));
  }
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, verb, client.status());
  // With --json, one document for the invocation: an object keyed by jail
  // name, each {"ok": true} or {"ok": false, "error": message}.
  nlohmann::json results = nlohmann::json::object();
  int status = EX_OK;
  for (const std::string& name : names) {
    absl::StatusOr<api::JailChange> c =
        verb == "destroy" ? client->DestroyJail(name) : client->JailAction(name, verb);
    if (!c.ok()) {
      status = Fail(ctx, verb, c.status());
      results[name] = {{"ok", false}, {"error", std::string(c.status().message())}};
      continue;
    }
    if (!c->changed && strict && status == EX_OK) status = 1;
    if (flags.json) {
      results[name] = {{"ok", true}, {"changed", c->changed}, {"state", c->state},
                       {"previous", c->previous}};
    } else {
      ctx.out << name << ": " << ChangeMessage(verb, *c) << "\n";
    }
  }
  if (flags.json) {
    ctx.out << results.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return status;
}

// The options among `names` given on the command line parsed into `app`.
std::vector<std::string> GivenOf(const CLI::App& app, const std::vector<std::string>& names) {
  std::vector<std::string> given;
  for (const std::string& n : names) {
    if (app.count(n) > 0) given.push_back(n);
  }
  return given;
}

// "a b" -> exit status as a shell reports it.
int ExitStatusOf(const api::ExecOutcome& o) {
  if (o.result.timed_out) return 124;  // timeout(1)
  if (o.result.term_signal != 0) return 128 + o.result.term_signal;
  return o.result.exit_code;
}

// Splits at the first "--": flags before, the command after.
void SplitCommand(const std::vector<std::string>& args,
                  std::vector<std::string>* before,
                  std::vector<std::string>* command) {
  bool after = false;
  for (const std::string& a : args) {
    if (!after && a == "--") {
      after = true;
      continue;
    }
    (after ? command : before)->push_back(a);
  }
}

// A jail definition as the request's "spec" object, in config.json form
// through the jail layer's codec, which the daemon parses back with
// jail::SpecFromJson: the field names live in one place.
nlohmann::json SpecJson(const platform::JailSpec& spec) {
  return nlohmann::json::parse(jail::SpecToJson(spec));
}

std::string UsageValue(std::string_view name, int64_t value, bool humanize) {
  if (!humanize) return StrCat(value);
  const std::string shown = rctl::DisplayUsagePair(StrCat(name, "=", value), true);
  const std::size_t eq = shown.find('=');
  return eq == std::string::npos ? shown : shown.substr(eq + 1);
}

}  // namespace

int RunStartVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  return Lifecycle(args, ctx, "start",
                   "Start jails (their dependencies first) through the daemon.");
}
int RunStopVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  return Lifecycle(args, ctx, "stop",
                   "Stop jails (their dependents first) through the daemon.");
}
int RunRestartVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  return Lifecycle(args, ctx, "restart", "Stop, then start jails.");
}
int RunDestroyVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  return Lifecycle(args, ctx, "destroy",
                   "Stop jails and forget them (and their API-added limits).");
}

int RunCreateVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Define a jail through the daemon, from a policy template or a root "
      "directory, with rctl limits (resource:action=amount).",
      "jailwarden create");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name, template_name, path, base, hostname;
  std::vector<std::string> limits, start_cmds, depend;
  bool start = false, persist = false;
  app.add_option("name", name, "jail name")->required();
  app.add_option("-t,--template", template_name, "policy template to instantiate");
  app.add_option("--path", path, "root directory (absolute)");
  app.add_option("--base", base, "read-only base root (thin jail over --path)");
  app.add_option("--hostname", hostname, "host.hostname");
  app.add_option("--exec-start", start_cmds, "exec.start command (repeatable)");
  app.add_option("--depend", depend, "jail to start first (repeatable)");
  app.add_option("-L,--limit", limits, "limit, e.g. memoryuse:deny=64M (repeatable)");
  app.add_flag("--persist", persist, "keep the jail with no processes");
  app.add_flag("--start", start, "start it at once");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (!template_name.empty()) {
    // The template is the whole definition (the daemon instantiates it and
    // would drop these): refused rather than ignored.
    const std::vector<std::string> given = GivenOf(
        app, {"--path", "--base", "--hostname", "--exec-start", "--depend", "--persist"});
    if (!given.empty()) {
      ctx.err << "jailwarden create: " << Join(given, ", ")
              << " cannot be combined with -t/--template: the template defines the "
                 "jail; change the template in the policy, or give --path instead of -t\n";
      return EX_USAGE;
    }
  }
  if (absl::Status s = CheckJailFlags(name, limits); !s.ok()) return Fail(ctx, "create", s);
  nlohmann::json body = nlohmann::json::object();
  body["name"] = name;
  if (!template_name.empty()) {
    body["template"] = template_name;
  } else {
    platform::JailSpec spec;
    spec.name = name;
    spec.path = path;
    spec.base_root = base;
    spec.hostname = hostname;
    spec.depend = depend;
    spec.persist = persist;
    spec.exec.start = start_cmds;
    body["spec"] = SpecJson(spec);
  }
  body["limits"] = limits;
  body["start"] = start;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "create", client.status());
  absl::Status s = client->CreateJail(
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!s.ok()) return Fail(ctx, "create", s);
  if (flags.json) {
    PrintJson(ctx, client->last_body());
  } else {
    ctx.out << name << ": created" << (start ? " and started" : "") << "\n";
  }
  return EX_OK;
}

namespace {

using OutputFn = std::function<void(std::string_view)>;

// exec and run: streams the command's stdout/stderr as it arrives (with
// --json, the daemon's NDJSON lines as they are instead) and turns the
// outcome into the exit status: the command's own, 126 when it could not
// run (as a shell says).
int StreamCommand(std::string_view verb, const ConnectionFlags& flags, api::Client& client,
                  CommandContext& ctx,
                  const std::function<absl::StatusOr<api::ExecOutcome>(
                      api::Client&, const OutputFn&, const OutputFn&)>& call) {
  if (flags.json) {
    // The daemon's NDJSON stream as is: output lines, then the status line.
    client.set_on_exec_line(
        [&](std::string_view line) { ctx.out << line << "\n" << std::flush; });
  }
  absl::StatusOr<api::ExecOutcome> outcome = call(
      client,
      [&](std::string_view d) {
        if (!flags.json) ctx.out << d << std::flush;
      },
      [&](std::string_view d) {
        if (!flags.json) ctx.err << d << std::flush;
      });
  if (!outcome.ok()) return Fail(ctx, verb, outcome.status());
  if (!outcome->error.empty()) {
    ctx.err << "jailwarden " << verb << ": " << outcome->error << "\n";
    return 126;
  }
  if (!outcome->exec_error.empty() && !flags.json) {
    ctx.err << "jailwarden " << verb << ": " << outcome->exec_error << "\n";
  }
  return ExitStatusOf(*outcome);
}

}  // namespace

int RunExecVerb(const std::vector<std::string>& raw, CommandContext& ctx) {
  std::vector<std::string> args, command;
  SplitCommand(raw, &args, &command);
  CLI::App app("Run a command in a running jail (like jexec); its output is "
               "streamed back and its exit status returned.",
               "jailwarden exec");
  app.footer("usage: jailwarden exec [options] NAME -- COMMAND [ARG...]");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name;
  std::vector<std::string> rest;
  bool interactive = false, tty = false;
  app.add_flag("-i,--interactive", interactive,
               "pass stdin through to the command (closed at its end)");
  app.add_flag("-t,--tty", tty,
               "run the command on a terminal from the jail's own devpts (raw mode here, "
               "window size and TERM passed on)");
  app.add_option("name", name, "jail name")->required();
  app.add_option("command", rest, "command (after --)");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  rest.insert(rest.end(), command.begin(), command.end());
  if (rest.empty()) {
    ctx.err << "jailwarden exec: no command; usage: jailwarden exec NAME -- COMMAND\n";
    return EX_USAGE;
  }
  if (interactive || tty) {
    return RunInteractiveExec(flags, name, rest, tty, interactive, "exec", ctx);
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "exec", client.status());
  return StreamCommand("exec", flags, *client, ctx,
                       [&](api::Client& c, const OutputFn& out, const OutputFn& err) {
                         return c.Exec(name, rest, out, err);
                       });
}

int RunRunVerb(const std::vector<std::string>& raw, CommandContext& ctx) {
  std::vector<std::string> args, command;
  SplitCommand(raw, &args, &command);
  CLI::App app(
      "One-shot jail (libioc fork_exec, lightjail ljspawn): make a jail from "
      "a policy template (or --path/--base), start it, run COMMAND in it, "
      "stream its output, stop and destroy it. Exits with COMMAND's status.",
      "jailwarden run");
  app.footer("usage: jailwarden run [--rm] [options] TEMPLATE -- COMMAND [ARG...]\n"
             "       jailwarden run [--rm] --path DIR [--base DIR] -- COMMAND");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string template_name, name, path, base;
  std::vector<std::string> limits;
  bool rm = true;
  app.add_option("template", template_name, "policy template");
  app.add_flag("--rm", rm, "remove the jail afterwards (always: one-shot jails never outlive the command)");
  app.add_option("--name", name, "jail name (default run-<pid>-<n>)");
  app.add_option("--path", path, "root directory, instead of a template");
  app.add_option("--base", base, "read-only base root under --path");
  app.add_option("-L,--limit", limits, "limit, e.g. pcpu:deny=50 (repeatable)");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (command.empty()) {
    ctx.err << "jailwarden run: no command; usage: jailwarden run TEMPLATE -- COMMAND\n";
    return EX_USAGE;
  }
  if (template_name.empty() && path.empty()) {
    ctx.err << "jailwarden run: give a TEMPLATE or --path\n";
    return EX_USAGE;
  }
  if (command[0].empty()) {
    ctx.err << "jailwarden run: field 'argv': the command (argv[0]) must not be empty\n";
    return EX_USAGE;
  }
  if (!template_name.empty()) {
    if (const std::vector<std::string> given = GivenOf(app, {"--path", "--base"});
        !given.empty()) {
      ctx.err << "jailwarden run: " << Join(given, ", ")
              << " cannot be combined with a TEMPLATE: the template defines the jail\n";
      return EX_USAGE;
    }
  }
  if (absl::Status s = CheckJailFlags(name, limits); !s.ok()) return Fail(ctx, "run", s);
  nlohmann::json body = nlohmann::json::object();
  if (!name.empty()) body["name"] = name;
  if (!template_name.empty()) {
    body["template"] = template_name;
  } else {
    platform::JailSpec spec;
    spec.name = name;
    spec.path = path;
    spec.base_root = base;
    body["spec"] = SpecJson(spec);
  }
  body["limits"] = limits;
  body["argv"] = command;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "run", client.status());
  const std::string request =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return StreamCommand("run", flags, *client, ctx,
                       [&](api::Client& c, const OutputFn& out, const OutputFn& err) {
                         return c.Run(request, out, err);
                       });
}

int RunUsageVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app("Show a jail's resource usage as `rctl -hu jail:NAME` does.",
               "jailwarden usage");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name;
  bool raw = false;
  app.add_option("name", name, "jail name")->required();
  app.add_flag("-n,--raw", raw, "plain numbers (rctl -u without -h)");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "usage", client.status());
  absl::StatusOr<api::JailInfo> jail = client->GetJail(name);
  if (!jail.ok()) return Fail(ctx, "usage", jail.status());
  // rctl_get_racct's text, displayed by rctl(8)'s own rules.
  api::RctlClientBackend backend(*client);
  absl::StatusOr<std::string> text = backend.GetRacct(StrCat("jail:", name));
  if (!text.ok()) return Fail(ctx, "usage", text.status());
  if (flags.json) {
    PrintJson(ctx, client->last_body());
    return EX_OK;
  }
  for (std::string_view pair : Split(*text, ',')) {
    if (pair.empty()) break;
    ctx.out << rctl::DisplayUsagePair(pair, !raw) << "\n";
  }
  return EX_OK;
}

int RunTopVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app("Live per-jail usage, refreshed (like top).", "jailwarden top");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  double interval = 1.0;
  int iterations = 0;
  bool raw = false;
  app.add_option("-d,--interval", interval, "seconds between refreshes")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option("-n,--iterations", iterations, "stop after N refreshes (0: until ^C)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--raw", raw, "plain numbers");
  app.footer("With --json: one document, the daemon's answer once (-n 0 or 1), or an "
             "array of N answers with -n N.");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (flags.json && raw) {
    ctx.err << "jailwarden top: --raw is for the table; --json numbers are always plain\n";
    return EX_USAGE;
  }
  if (flags.json && iterations == 0) iterations = 1;  // one document, not a stream
  nlohmann::json samples = nlohmann::json::array();
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "top", client.status());
  const bool tty = &ctx.out == &std::cout && isatty(STDOUT_FILENO);
  static constexpr const char* kColumns[] = {
      "pcpu", "memoryuse", "vmemoryuse", "maxproc", "nthr",
      "openfiles", "readbps", "writebps", "cputime"};
  for (int i = 0; iterations == 0 || i < iterations; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    }
    absl::StatusOr<std::vector<api::UsageRow>> rows = client->Top();
    if (!rows.ok()) return Fail(ctx, "top", rows.status());
    if (flags.json) {
      samples.push_back(nlohmann::json::parse(client->last_body(), nullptr, false));
      continue;
    }
    std::vector<Row> table;
    for (const api::UsageRow& r : *rows) {
      Row row = {r.jid >= 0 ? StrCat(r.jid) : "-", r.name, r.state};
      for (const char* c : kColumns) {
        std::string cell = "-";
        for (const auto& [res, value] : r.usage) {
          if (res == c) cell = UsageValue(res, value, !raw);
        }
        row.push_back(cell);
      }
      table.push_back(std::move(row));
    }
    if (tty) ctx.out << "\033[H\033[2J";
    ctx.out << FormatTable({"JID", "NAME", "STATE", "PCPU%", "MEM", "VMEM",
                            "PROCS", "THREADS", "FILES", "READ/s", "WRITE/s",
                            "CPU s"},
                           table)
            << std::flush;
  }
  if (flags.json) {
    const nlohmann::json& doc = iterations == 1 ? samples[0] : samples;
    ctx.out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return EX_OK;
}

int RunStatusVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app("Show the daemon's state: readiness, policy, last reload.",
               "jailwarden status");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "status", client.status());
  absl::StatusOr<api::DaemonStatus> s = client->Status();
  if (!s.ok()) return Fail(ctx, "status", s.status());
  if (flags.json) {
    PrintJson(ctx, client->last_body());
    return s->ready ? EX_OK : EX_UNAVAILABLE;
  }
  ctx.out << "ready:        " << (s->ready ? "yes" : "no") << "\n"
          << "version:      " << s->version << "\n"
          << "backend:      " << s->backend << "\n"
          << "policy:       " << s->policy_file << " (generation "
          << s->policy_generation << ")\n"
          << "jails:        " << s->jails << "\n"
          << "rules:        " << s->rules << "\n"
          << "ticks:        " << s->sampler_ticks << "\n"
          << "events:       " << s->events << "\n";
  if (!s->last_reload_ok) {
    ctx.out << "last reload:  refused: " << s->last_reload_error << "\n";
  }
  return s->ready ? EX_OK : EX_UNAVAILABLE;
}

}  // namespace jailwarden::cli
