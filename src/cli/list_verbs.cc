// list (iocage's table, -H, --names, --jls) and get (a jail's keys).

#include <sysexits.h>

#include <algorithm>
#include <cstdio>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "cli/global_flags.h"
#include "cli/table.h"
#include "jailwarden/base/strings.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

std::string Dash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

// Issue 17: the MAIN column, the supervised main process in a few words.
std::string MainSummary(const api::JailInfo& j) {
  if (!j.main.has_value()) return "-";
  const platform::MainProcessStatus& m = *j.main;
  std::string exit;
  if (m.exited) {
    exit = m.exit_signal != 0 ? StrCat("killed by signal ", m.exit_signal)
                              : StrCat("exited ", m.exit_code);
    if (m.oom_killed) exit += " (OOM)";
  }
  std::string s = m.running ? "running"
                  : m.gave_up ? StrCat("down, restart limit; ", exit)
                  : m.stopped ? "stopped"
                  : m.next_start > absl::Now() ? StrCat("restarting; ", exit)
                  : StrCat("down; ", exit);
  if (m.restarts > 0) s += StrCat(m.running ? ", " : " ", m.restarts, " restarts");
  return s;
}


// jls(8)'s default table: running jails only, its header and its widths
// (usr.sbin/jls: "%6d  %-15.15s %-29.29s %.74s").
std::string JlsTable(const std::vector<api::JailInfo>& jails) {
  std::string out = "   JID  IP Address      Hostname                      Path\n";
  char line[256];
  for (const api::JailInfo& j : jails) {
    if (j.jid < 0) continue;
    const std::string ip = j.ip4.empty() ? "" : j.ip4[0];
    std::snprintf(line, sizeof(line), "%6lld  %-15.15s %-29.29s %.74s\n",
                  static_cast<long long>(j.jid), ip.c_str(), j.hostname.c_str(),
                  j.path.c_str());
    out += line;
  }
  return out;
}

// A key's value as `get` prints it: strings bare, lists comma-separated,
// the rest as JSON.
std::string Shown(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && std::all_of(v.begin(), v.end(),
                                  [](const nlohmann::json& e) { return e.is_string(); })) {
    std::vector<std::string> parts;
    for (const nlohmann::json& e : v) parts.push_back(e.get<std::string>());
    return Join(parts, ",");
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int RunListVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app("List jails as iocage does: JID, NAME, STATE, RELEASE/ROOT, IP4.",
               "jailwarden list");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  bool scripted = false, long_form = false, names_only = false, jls = false;
  CLI::Option* scripted_opt =
      app.add_flag("-H,--scripted", scripted, "no header, tab-separated (iocage list -h)");
  CLI::Option* long_opt =
      app.add_flag("-l,--long", long_form, "also show limits with their fidelity");
  CLI::Option* names_opt =
      app.add_flag("--names", names_only, "only the names, one per line (for scripts)");
  CLI::Option* jls_opt = app.add_flag(
      "--jls", jls, "jls(8)'s table of running jails: JID, IP Address, Hostname, Path");
  // One output form per invocation: each excludes the others.
  const std::vector<CLI::Option*> forms = {scripted_opt, names_opt, jls_opt};
  for (CLI::Option* a : forms) {
    for (CLI::Option* b : forms) {
      if (a != b) a->excludes(b);
    }
  }
  long_opt->excludes(names_opt)->excludes(jls_opt);
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (flags.json && (scripted || long_form || names_only || jls)) {
    ctx.err << "jailwarden list: --json is the whole answer; it takes no -H, -l, "
               "--names or --jls\n";
    return EX_USAGE;
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "list", client.status());
  absl::StatusOr<std::vector<api::JailInfo>> jails = client->ListJails();
  if (!jails.ok()) return Fail(ctx, "list", jails.status());
  if (flags.json) {
    PrintJson(ctx, client->last_body());
    return EX_OK;
  }
  if (names_only) {
    for (const api::JailInfo& j : *jails) ctx.out << j.name << "\n";
    return EX_OK;
  }
  if (jls) {
    ctx.out << JlsTable(*jails);
    return EX_OK;
  }
  // MAIN (issue 17) only when a jail has a command, HEALTH only when one
  // has a healthcheck: iocage's five columns stay as they are otherwise.
  const bool any_main = std::any_of(jails->begin(), jails->end(),
                                    [](const api::JailInfo& j) { return j.main.has_value(); });
  const bool health = std::any_of(jails->begin(), jails->end(),
                                  [](const api::JailInfo& j) { return !j.health.empty(); });
  // TYPE only when an OCI container (observed read-only) is listed.
  const bool any_oci = std::any_of(jails->begin(), jails->end(),
                                   [](const api::JailInfo& j) { return !j.oci_root.empty(); });
  std::vector<Row> rows;
  for (const api::JailInfo& j : *jails) {
    rows.push_back({j.jid >= 0 ? StrCat(j.jid) : "-", j.name, j.state,
                    Dash(j.base_root.empty() ? j.path : j.base_root),
                    j.ip4.empty() ? "-" : Join(j.ip4, ",")});
    if (any_main) rows.back().push_back(MainSummary(j));
    if (health) rows.back().push_back(Dash(j.health));
    if (any_oci) rows.back().push_back(j.oci_root.empty() ? "jail" : "oci");
  }
  std::vector<std::string> header = {"JID", "NAME", "STATE", "RELEASE/ROOT", "IP4"};
  if (any_main) header.push_back("MAIN");
  if (health) header.push_back("HEALTH");
  if (any_oci) header.push_back("TYPE");
  if (scripted) {
    ctx.out << FormatScripted(rows);
  } else {
    ctx.out << FormatTable(header, rows);
  }
  if (long_form) {
    for (const api::JailInfo& j : *jails) {
      for (const api::RuleInfo& r : j.limits) {
        ctx.out << r.rule << "\t" << r.fidelity << "\t" << Dash(r.mechanism);
        if (!r.detail.empty()) ctx.out << "\t" << r.detail;
        ctx.out << "\n";
      }
    }
  }
  return EX_OK;
}

int RunGetVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Print a jail's keys as the daemon reports them (GET /v1/jails/NAME), as "
      "iocage get does: with no KEY every key as KEY=VALUE; with one KEY its "
      "value alone; with several, KEY=VALUE each.",
      "jailwarden get");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name;
  std::vector<std::string> keys;
  app.add_option("name", name, "jail name")->required();
  app.add_option("key", keys, "key: name, state, jid, path, base_root, hostname, ip4, ...");
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "get", client.status());
  absl::StatusOr<api::JailInfo> jail = client->GetJail(name);
  if (!jail.ok()) return Fail(ctx, "get", jail.status());
  const nlohmann::json all = nlohmann::json::parse(client->last_body(), nullptr, false);
  if (!all.is_object()) {
    ctx.err << "jailwarden get: the daemon's answer is not a JSON object\n";
    return EX_SOFTWARE;
  }
  std::vector<std::string> known;
  for (const auto& [k, v] : all.items()) known.push_back(k);
  for (const std::string& k : keys) {
    if (all.contains(k)) continue;
    ctx.err << "jailwarden get: unknown key '" << k << "'";
    if (std::string s = Suggest(k, known); !s.empty()) ctx.err << "; did you mean '" << s << "'?";
    ctx.err << " (keys: " << Join(known, ", ") << ")\n";
    return EX_USAGE;
  }
  const bool one_key = keys.size() == 1;
  if (keys.empty()) keys = known;
  if (flags.json) {
    nlohmann::json picked = nlohmann::json::object();
    for (const std::string& k : keys) picked[k] = all[k];
    ctx.out << picked.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (one_key) {
    ctx.out << Shown(all[keys[0]]) << "\n";
  } else {
    for (const std::string& k : keys) ctx.out << k << "=" << Shown(all[k]) << "\n";
  }
  return EX_OK;
}

}  // namespace jailwarden::cli
