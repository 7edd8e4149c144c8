#pragma once

// The HTTP client the jailwarden CLI talks to the daemon with: libcurl
// (HTTP/1.1 over TCP, TLS or a unix socket), one connection per request,
// responses streamed to a callback as they arrive. TLS verifies the daemon
// by a pinned public key (the daemon writes its pin into the state
// directory) and/or a CA file; a pin mismatch ends the handshake before any
// request byte, the bearer token included, is sent. Proxies are never
// used (the environment's http_proxy/https_proxy are ignored). Typed calls
// decode the API's JSON; every call keeps the raw body so `--json` can
// print exactly what the daemon said.
//
// Thread-compatible: one Client per thread.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/base/files.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::api {

struct ClientOptions {
  // "https://HOST:PORT", "http://HOST:PORT", "HOST:PORT" (http) or
  // "unix:/path/to/socket".
  std::string server = "http://127.0.0.1:9814";
  // Sent as "Authorization: Bearer <token>" when not empty.
  std::string token;
  // https: the daemon's public key pin(s), "sha256//BASE64[;sha256//...]".
  // Set alone, the certificate chain and name are not checked, only the
  // key; with ca_file, both are.
  std::string pin;
  // https: verify the daemon's certificate against this PEM CA file (and
  // its name against the host). Neither pin nor ca_file: the system's CAs.
  std::string ca_file;
  // Client certificate and key (PEM) for a listener that asks for one.
  std::string client_cert;
  std::string client_key;
  // Connecting, TLS handshake included.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Longest silence while reading an answer (streams restart it on every
  // byte; the daemon's event streams send a keep-alive every 15 s).
  absl::Duration timeout = absl::Seconds(120);
  // Longest a whole request may take; zero: no bound (streams).
  absl::Duration max_time = absl::ZeroDuration();
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// One jail's usage as `usage`/`top` show it: every resource the sampler
// read, in rctl(8)'s user units (pcpu in percent, cputime in seconds).
struct UsageRow {
  std::string name;
  int64_t jid = -1;
  std::string state;
  std::vector<std::pair<std::string, int64_t>> usage;  // resource order
};

// What `exec` and `run` stream back.
struct ExecOutcome {
  platform::ExecResult result;
  std::string error;  // the daemon's error, when the command did not run
  // Why argv[0] could not be executed, from the child itself
  // ("/nonexistent: No such file or directory"); the result then holds
  // the shell's 127 or 126.
  std::string exec_error;
};

class Client {
 public:
  explicit Client(ClientOptions options);

  // One request. Transport errors are Unavailable ("cannot connect to
  // http://...: Connection refused"); any HTTP status is returned as is.
  // A body goes as application/json.
  absl::StatusOr<HttpResponse> Do(std::string_view method,
                                  std::string_view target,
                                  std::string_view body = {});

  // Streams the response body to `on_data` as it arrives (chunked decoded);
  // `on_data` returns false to stop. Returns the HTTP status. A non-2xx
  // body is collected in `error_body` instead of streamed.
  absl::StatusOr<int> Stream(std::string_view method, std::string_view target,
                             std::string_view body,
                             const std::function<bool(std::string_view)>& on_data,
                             std::string* error_body = nullptr);

  // HTTP Upgrade: sends `method target` with "Connection: Upgrade",
  // "Upgrade: <protocol>", the token and `body` (JSON; may be empty), and
  // on "101 Switching Protocols" hands over the connection: a connected,
  // blocking, bidirectional socket the caller owns and closes. Over unix:
  // and http:// it is the connection itself; over https:// a socketpair
  // end whose other end a detached relay thread of this process encrypts
  // (it ends when the caller closes its end or the daemon closes; a
  // caller's shutdown(SHUT_WR) is not passed on over TLS). Any other
  // answer: the daemon's error as a Status (StatusFromError); transport
  // errors as Do().
  absl::StatusOr<base::UniqueFd> Upgrade(std::string_view method, std::string_view target,
                                         std::string_view protocol,
                                         std::string_view body = {});

  // Do(), then: 2xx returns the body; otherwise the daemon's error as a
  // Status (code and errno restored; see StatusFromError).
  absl::StatusOr<std::string> Call(std::string_view method,
                                   std::string_view target,
                                   std::string_view body = {});

  // Typed calls. Each keeps the raw JSON in last_body().
  absl::StatusOr<std::vector<JailInfo>> ListJails();
  absl::StatusOr<JailInfo> GetJail(std::string_view name);
  // action: "start", "stop", "restart". What the daemon did: changed=false
  // when the jail already was as asked (an older daemon that does not say
  // is taken as changed).
  absl::StatusOr<JailChange> JailAction(std::string_view name, std::string_view action);
  absl::StatusOr<JailChange> DestroyJail(std::string_view name);
  absl::Status CreateJail(std::string_view request_json);
  absl::StatusOr<DaemonStatus> Status();
  absl::StatusOr<UsageRow> Usage(std::string_view jail);
  absl::StatusOr<std::vector<UsageRow>> Top();
  // The policy text to apply; InvalidArgument with the daemon's
  // "FILE:LINE:COL: message" lines when it refuses it.
  absl::StatusOr<ApplyResult> Apply(std::string_view policy_text,
                                    std::string_view filename, bool dry_run);
  // PATCH /v1/jails/NAME {"set": {KEY: VALUE...}, "dry_run"}: the jail's
  // policy keys (values as YAML text, "" removes the key). Errors as Apply;
  // NotFound when the policy defines no such jail.
  absl::StatusOr<ApplyResult> SetJailKeys(
      std::string_view name, const std::vector<std::pair<std::string, std::string>>& keys,
      bool dry_run);
  absl::StatusOr<std::vector<RuleInfo>> RulesWithFidelity(
      std::string_view filter);

  // Runs `argv` in jail `name` (or, for Run, in a one-shot jail described
  // by `run_json`), writing its stdout/stderr to the callbacks as it comes.
  absl::StatusOr<ExecOutcome> Exec(
      std::string_view name, const std::vector<std::string>& argv,
      const std::function<void(std::string_view)>& on_stdout,
      const std::function<void(std::string_view)>& on_stderr);
  absl::StatusOr<ExecOutcome> Run(
      std::string_view run_json,
      const std::function<void(std::string_view)>& on_stdout,
      const std::function<void(std::string_view)>& on_stderr);

  // GET /v1/events?<query> as NDJSON ("since=5&jail=web&follow=0"): each
  // line (one JSON object, keep-alives included) to `on_line` as it
  // arrives; `on_line` returns false to stop. OK when the daemon ended the
  // stream or on_line stopped it; the daemon's error (a bad query is
  // InvalidArgument), or Unavailable when the connection failed or broke.
  absl::Status Events(std::string_view query,
                      const std::function<bool(std::string_view)>& on_line);

  const std::string& last_body() const { return last_body_; }
  const ClientOptions& options() const { return options_; }

  // Exec and Run also hand every NDJSON line of the stream, as received,
  // to `on_line` (for --json). Unset: none.
  void set_on_exec_line(std::function<void(std::string_view)> on_line) {
    on_exec_line_ = std::move(on_line);
  }

 private:
  absl::StatusOr<ApplyResult> ApplyAnswer(const HttpResponse& r);
  absl::StatusOr<ExecOutcome> StreamExec(
      std::string_view target, std::string_view body,
      const std::function<void(std::string_view)>& on_stdout,
      const std::function<void(std::string_view)>& on_stderr);

  ClientOptions options_;
  std::string last_body_;
  std::function<void(std::string_view)> on_exec_line_;
};

// The five rctl(2) calls over the API (GET/POST/DELETE /v1/rules,
// /v1/limits, /v1/usage), so rctl::RunRctl prints exactly rctl(8)'s output
// and messages against the daemon's rule database. A transport failure is
// reported as ENOSYS-free Unavailable with the connection error.
class RctlClientBackend : public rctl::RctlBackend {
 public:
  explicit RctlClientBackend(Client& client) : client_(client) {}
  absl::Status AddRule(std::string_view rule) override;
  absl::Status RemoveRule(std::string_view filter) override;
  absl::StatusOr<std::string> GetRules(std::string_view filter) override;
  absl::StatusOr<std::string> GetLimits(std::string_view filter) override;
  absl::StatusOr<std::string> GetRacct(std::string_view filter) override;

 private:
  absl::StatusOr<std::string> GetText(std::string_view path,
                                      std::string_view param,
                                      std::string_view filter,
                                      std::string_view field);
  Client& client_;
};

}  // namespace jailwarden::api
