#pragma once

// What every daemon-talking verb shares: the connection flags (--server,
// --token, --token-file, --config, --json), the CLI11 adapter (CLI11
// throws; ParseArgs is the one place that catches), and exit codes.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "jailwarden/api/client.h"
#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

struct ConnectionFlags {
  std::string server;      // --server, --address
  std::string token;       // --token
  std::string token_file;  // --token-file
  std::string config;      // -c/--config: take listen and token_file from it
  std::string pin;         // --pin sha256//...
  std::string cacert;      // --cacert FILE
  bool json = false;       // --json
};

// Adds the global options (global_flags.h: -c/--config, --server/--address,
// --token, --token-file, --cacert, --pin, --json) to `app`.
void AddConnectionFlags(CLI::App& app, ConnectionFlags& flags);

// The client for `flags`. Server: --server/--address, $JAILWARDEN_SERVER,
// the policy's server.api_socket (default /run/jailwarden/api.sock) when it
// is a socket this user may connect to (then no token is read), else the
// policy's first server.listen (https:// when TLS is on; with --config or
// $JAILWARDEN_CONFIG), else http://127.0.0.1:9814 -- but a defaulted
// plain-http address while the policy names an api_socket is Unavailable
// (the token is never sent where a squatter may listen). Token:
// --token, $JAILWARDEN_TOKEN, --token-file, the policy's server.token_file,
// else /var/lib/jailwarden/token when readable. TLS: --pin,
// $JAILWARDEN_PIN, --cacert; else the pin of the web config's cert_file, or
// <state_dir>/api-tls/pin when readable (no pin and no CA: the system's CAs,
// which a self-signed daemon key fails — nothing is sent then).
absl::StatusOr<api::Client> MakeClient(const ConnectionFlags& flags);

// The shape of one verb's command line, for the completion generator:
// options (every name, whether it takes a value, its help line) and
// positionals, read from the verb's own CLI11 app.
struct OptionShape {
  std::vector<std::string> names;  // "-c", "--config"
  bool takes_value = false;
  std::string help;
};
struct VerbShape {
  std::vector<OptionShape> options;
  std::vector<std::string> positionals;  // their names, in order
  bool recorded = false;  // the verb reached ParseArgs (or RecordShape)
};

// While one is alive on this thread, ParseArgs and RecordShape record the
// app into `*shape` instead of parsing, and ParseArgs returns EX_OK: a verb
// run with "--help" under a recorder describes itself and does nothing.
// Not thread-safe across threads by design (thread_local).
class ScopedShapeRecorder {
 public:
  explicit ScopedShapeRecorder(VerbShape* shape);
  ~ScopedShapeRecorder();
  ScopedShapeRecorder(const ScopedShapeRecorder&) = delete;
  ScopedShapeRecorder& operator=(const ScopedShapeRecorder&) = delete;

 private:
  VerbShape* previous_;
};

// Records `app` when a ScopedShapeRecorder is alive and returns true; else
// false. For verbs that parse by hand (rctl) and describe themselves with
// a CLI11 app only for this.
bool RecordShape(const CLI::App& app);

// Parses `args` into `app`. Returns nullopt to go on, or the exit code to
// return at once (0 after --help, EX_USAGE after a parse error, with the
// message on ctx.err).
std::optional<int> ParseArgs(CLI::App& app, const std::vector<std::string>& args,
                             CommandContext& ctx);

// Prints "jailwarden <verb>: <message>" and returns ExitCodeFor(status)
// (base/exit_code.h): EX_UNAVAILABLE when the daemon cannot be reached,
// EX_NOPERM for a missing or bad token, EX_CONFIG for a refused policy or
// definition, 1 when the operation failed (no such jail), ...
int Fail(CommandContext& ctx, std::string_view verb, const absl::Status& status);

// The daemon's last JSON answer, pretty-printed, for --json.
void PrintJson(CommandContext& ctx, const std::string& body);

}  // namespace jailwarden::cli
