// `jailwarden exec -i/-t` over the daemon's upgraded exec stream, and
// `jailwarden console NAME` (exec_interactive.h, daemon_verbs.h).

#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "cli/exec_interactive.h"
#include "jailwarden/api/exec_frames.h"
#include "jailwarden/api/exec_session.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::cli {

int RunInteractiveExec(const ConnectionFlags& flags, const std::string& name,
                       std::vector<std::string> argv, bool tty, bool forward_stdin,
                       std::string_view verb, CommandContext& ctx) {
  api::ExecSessionRequest req;
  req.exec.argv = std::move(argv);
  req.tty = tty;
  req.stdin = forward_stdin;
  if (tty) {
    if (std::optional<std::pair<uint16_t, uint16_t>> size = TerminalSize(STDIN_FILENO)) {
      req.rows = size->first;
      req.cols = size->second;
    }
    if (const char* term = getenv("TERM"); term != nullptr) req.term = term;
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, verb, client.status());
  absl::StatusOr<base::UniqueFd> conn =
      client->Upgrade("POST", StrCat("/v1/jails/", api::UrlEncode(name), "/exec"),
                      api::kExecProtocol, api::ExecSessionRequestToJson(req));
  if (!conn.ok()) return Fail(ctx, verb, conn.status());
  ctx.out << std::flush;
  ctx.err << std::flush;
  InteractiveOptions o;
  o.tty = tty;
  o.forward_stdin = forward_stdin;
  o.verb = std::string(verb);
  return RunInteractiveSession(conn->release(), o);
}

int RunConsoleVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Log in to a running jail, as iocage console: root's login shell from the jail's "
      "/etc/passwd (-l; /bin/sh when missing) on a terminal from the jail's own devpts. "
      "The exit status is the shell's.",
      "jailwarden console");
  app.footer("usage: jailwarden console [options] NAME");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name;
  app.add_option("name", name, "jail name")->required();
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  return RunInteractiveExec(flags, name, ConsoleArgv(), /*tty=*/true, /*forward_stdin=*/true,
                            "console", ctx);
}

}  // namespace jailwarden::cli
