#pragma once

// The daemon's side of an interactive exec session (exec_frames.h): runs
// one command with its stdin fed from stdin frames and its output sent
// back as stdout/stderr frames, on pipes or on a pseudo-terminal of the
// jail's own devpts (platform::ExecRequest::tty), then the exit frame.
//
// Bounded: at most ExecSessionLimits::max_pending_bytes wait in each
// direction. When the client reads slowly the session stops reading the
// command's output, so a jail process flooding its terminal blocks in its
// own write; nothing else of the daemon waits for it. Each session is
// served on the calling thread (plus one thread that waits for the
// command).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::api {

// What the client asks for: today's exec body plus the terminal's.
struct ExecSessionRequest {
  platform::ExecRequest exec;  // argv, env, clean_env, timeout
  bool tty = false;            // a pseudo-terminal in the jail
  bool stdin = false;          // forward stdin frames (else /dev/null)
  uint16_t rows = 0, cols = 0;  // the client's terminal size, 0 = unknown
  std::string term;            // TERM for the command ("" = not set)
};

struct ExecSessionLimits {
  // Bytes waiting in each direction (output to the client, input to the
  // command) before the session stops reading that side.
  size_t max_pending_bytes = 256 * 1024;
  // After the command ended: how long output left in the pipes or the
  // terminal is still read (background processes may hold them open).
  absl::Duration drain = absl::Milliseconds(200);
  // How long the last frames may wait for a client that does not read.
  absl::Duration flush = absl::Seconds(5);
};

// The request body of an upgraded exec (POST /v1/jails/NAME/exec with
// `Upgrade: jailwarden-exec.v1`): today's exec fields (argv, env,
// clean_env, timeout_ms) plus tty, stdin, rows, cols, term.
std::string ExecSessionRequestToJson(const ExecSessionRequest& request);
// InvalidArgument naming the field: an unknown one (with a suggestion), a
// wrong type, rows/cols outside 0..65535, argv empty or with NUL bytes.
absl::StatusOr<ExecSessionRequest> ExecSessionRequestFromJson(std::string_view body);

// Runs the command (`exec` blocks until it ends; it is the daemon's
// Exec(jail, request)). The exec call runs on a thread of its own.
using ExecCall =
    std::function<absl::StatusOr<platform::ExecResult>(const platform::ExecRequest&)>;

// "ARGV0: strerror(err)", what a shell prints when execve fails.
std::string ExecErrorText(const std::vector<std::string>& argv, int err);

// Serves one session on `conn`, a connected stream socket or pipe-like fd
// the function owns and closes. Returns when the exit (or error) frame is
// sent, or the client is gone and the command ended. A client that breaks
// the protocol (ExecSession's frames: unknown type, over-long payload,
// bad resize) gets an error frame and its command's stdin or terminal is
// closed (a terminal's session gets SIGHUP).
void ServeExecSession(int conn, ExecSessionRequest request, const ExecCall& exec,
                      const ExecSessionLimits& limits = {});

}  // namespace jailwarden::api
