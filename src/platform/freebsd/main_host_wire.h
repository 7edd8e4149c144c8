#pragma once

// The wire between the daemon and a jail's main-process host
// (jailwarden-supervise, platform/freebsd/main_host.h): one SOCK_SEQPACKET
// message per request and one per answer on a unix socket the host binds
// (0600, in the daemon's run directory, outside every jail).
//
// A message is NUL-separated fields: the verb, then key/value pairs (a key
// may repeat: "arg", "env"). Argument, environment and user strings are C
// strings, so they cannot hold a NUL and need no escaping.
//   start  jail, jid, user, restart, backoff_initial_ns, backoff_max_ns,
//          limit_count, limit_window_ns, clean_env, arg..., env K=V...,
//          fds (which of "in", "out", "err" ride along, in that order, as
//          SCM_RIGHTS)
//   status | stop timeout_ns | quit
// Answers: "ok" + a MainProcessStatus's fields, or "error" code message.
//
// Pure functions plus Ask (one connect, send, bounded receive). Thread-safe.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

inline constexpr std::size_t kMainWireMax = 64 * 1024;  // one message, bytes

// One decoded message: the verb and its pairs in order.
struct MainWireMessage {
  std::string verb;
  std::vector<std::pair<std::string, std::string>> fields;
  // The first value of `key`, "" when absent.
  std::string Get(std::string_view key) const;
};

std::string EncodeMainWire(const MainWireMessage& m);
// InvalidArgument for a message without a verb or with an odd field count.
absl::StatusOr<MainWireMessage> DecodeMainWire(std::string_view bytes);

// A start request and its fields (the fds travel beside it).
struct MainStartRequest {
  std::string jail;
  int jid = 0;
  std::string user;
  MainSpec spec;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  bool clean_env = false;
  bool has_stdin = false, has_stdout = false, has_stderr = false;
};
MainWireMessage EncodeStart(const MainStartRequest& r);
// InvalidArgument naming the field that is missing or malformed.
absl::StatusOr<MainStartRequest> DecodeStart(const MainWireMessage& m);

MainWireMessage EncodeStatusAnswer(const MainProcessStatus& s);
MainWireMessage EncodeErrorAnswer(const absl::Status& s);
// The status of an "ok" answer, or the error an "error" answer carries.
absl::StatusOr<MainProcessStatus> DecodeAnswer(const MainWireMessage& m);

// Connects to `socket_path`, sends `request` with `fds` (SCM_RIGHTS; the
// caller keeps its own), and waits at most `timeout` for the answer.
// Errors: Unavailable (no host listening: ENOENT/ECONNREFUSED, or no
// answer in time), the errno of socket/connect/sendmsg, the decoded error.
absl::StatusOr<MainProcessStatus> AskMainHost(const std::string& socket_path,
                                              const MainWireMessage& request,
                                              const std::vector<int>& fds,
                                              absl::Duration timeout);

}  // namespace jailwarden::platform
