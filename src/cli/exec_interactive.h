#pragma once

// The client's side of an interactive exec session (api/exec_frames.h):
// `jailwarden exec -i/-t` and `jailwarden console` pump the user's
// terminal or pipes through one connected stream to the daemon's session
// (api::ServeExecSession). Not thread-safe: one session per process, on
// the calling thread (it changes the signal mask and the terminal).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

struct ConnectionFlags;

struct InteractiveOptions {
  bool tty = false;            // raw mode on in_fd, SIGWINCH -> resize frames
  bool forward_stdin = false;  // in_fd's bytes as stdin frames, EOF as stdin-eof
  int in_fd = 0, out_fd = 1, err_fd = 2;
  std::string verb = "exec";  // for "jailwarden <verb>: <message>"
};

// Runs the session on `conn` (owned, closed on return) until the exit
// frame; returns the shell's status for it (the code, 128 + signal, 124
// for a timeout). An error frame is printed as "jailwarden <verb>:
// <message>" on err_fd (after the terminal is restored); without an exit
// frame the status is 126, and 69 (EX_UNAVAILABLE) when the stream ends
// with neither. The terminal's mode is put back on every way out: the
// exit frame, the stream's end, SIGINT, SIGTERM or SIGHUP (then 128 +
// the signal).
int RunInteractiveSession(int conn, const InteractiveOptions& options);

// `jailwarden exec -i/-t` and `console`: opens the daemon's exec stream
// (POST /v1/jails/NAME/exec, Upgrade: jailwarden-exec.v1) with the
// terminal's size and TERM when `tty`, then runs the session. Returns the
// command's status, or Fail()'s for a daemon that refuses or cannot be
// reached.
int RunInteractiveExec(const ConnectionFlags& flags, const std::string& name,
                       std::vector<std::string> argv, bool tty, bool forward_stdin,
                       std::string_view verb, CommandContext& ctx);

// The size (rows, cols) of the terminal on `fd`, nullopt if it is none.
std::optional<std::pair<uint16_t, uint16_t>> TerminalSize(int fd);

// `jailwarden console`'s command: inside the jail, root's shell from its
// /etc/passwd (/bin/sh when missing or not executable) as a login shell
// (-l), in root's home directory, with HOME, SHELL, USER and LOGNAME set.
// The jail's /etc/passwd is read by the jail's own /bin/sh, never by the
// host.
std::vector<std::string> ConsoleArgv();

}  // namespace jailwarden::cli
