#include "cli/common.h"

#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>

#include "jailwarden/api/tls.h"
#include "jailwarden/api/token.h"
#include "jailwarden/api/web_config.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/exit_code.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The admin socket is used when it is there and this user may connect
// (write permission on a socket is what connect(2) needs).
bool SocketUsable(const std::string& path) {
  struct stat st {};
  return !path.empty() && lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
         access(path.c_str(), W_OK) == 0;
}

}  // namespace

void AddConnectionFlags(CLI::App& app, ConnectionFlags& flags) {
  app.add_option("--server,--address", flags.server,
                 "daemon address: unix:PATH, https://HOST:PORT or http://HOST:PORT "
                 "(default: $JAILWARDEN_SERVER, the policy's server.api_socket "
                 "(/run/jailwarden/api.sock) when it exists, else its server.listen "
                 "if that is https or the policy has no api_socket)");
  app.add_option("--token", flags.token,
                 "API bearer token (default: $JAILWARDEN_TOKEN, the token file)");
  app.add_option("--token-file", flags.token_file,
                 "read the token from this file (default: the policy's "
                 "server.token_file, /var/lib/jailwarden/token)");
  app.add_option("-c,--config", flags.config,
                 "policy file to take the address and token file from "
                 "(default: $JAILWARDEN_CONFIG)");
  app.add_option("--pin", flags.pin,
                 "the daemon's public key pin, sha256//BASE64 (default: "
                 "$JAILWARDEN_PIN, <state_dir>/api-tls/pin)");
  app.add_option("--cacert", flags.cacert,
                 "verify the daemon's TLS certificate with this CA file");
  app.add_flag("--json", flags.json, "print the daemon's JSON answer");
}

absl::StatusOr<api::Client> MakeClient(const ConnectionFlags& flags) {
  api::ClientOptions options;
  std::string config = flags.config.empty() ? Env("JAILWARDEN_CONFIG") : flags.config;
  std::string listen, token_file;
  std::string state_dir = policy::kDefaultStateDir;
  std::string web_config;
  std::string api_socket = policy::kDefaultApiSocket;
  bool tls = true;
  if (!config.empty()) {
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyFile(config);
    if (!p.ok()) {
      return absl::InvalidArgumentError(ToAbsl(
          StrCat("cannot use policy ", config, ": ", ToStd(p.status().message()))));
    }
    if (!p->server.listen.empty()) listen = p->server.listen[0];
    token_file = p->server.token_file;
    state_dir = p->server.state_dir;
    web_config = p->server.web_config;
    tls = p->server.tls;
    api_socket = p->server.api_socket;
    if (!tls && !web_config.empty()) {
      absl::StatusOr<api::WebConfig> wc = api::LoadWebConfig(web_config);
      tls = wc.ok() && wc->tls.has_value();
    }
  }
  // Whether the address was chosen by the user (then the token goes where
  // they said) or defaulted here.
  bool chosen = true;
  if (!flags.server.empty()) {
    options.server = flags.server;
  } else if (std::string env = Env("JAILWARDEN_SERVER"); !env.empty()) {
    options.server = env;
  } else if (SocketUsable(api_socket)) {
    // The admin socket: root-only by its mode, no token, and no jail can
    // reach it. docs/api-security.md.
    options.server = StrCat("unix:", api_socket);
  } else {
    chosen = false;
    if (!listen.empty()) {
      // A wildcard listener is reached on loopback.
      if (StartsWith(listen, "0.0.0.0:")) listen = StrCat("127.0.0.1", listen.substr(7));
      options.server = StrCat(tls ? "https://" : "http://", listen);
    }
  }
  // The squat rule (docs/api-security.md): while the daemon is down any
  // local process, a jail sharing the host's network included, may listen
  // on its TCP port. A defaulted plain-http address proves nothing, so the
  // token is not sent there when the policy has an admin socket: the CLI
  // fails instead. https (pinned key or CA) proves the daemon first.
  if (!chosen && !api_socket.empty() && !StartsWith(options.server, "https://")) {
    return absl::UnavailableError(ToAbsl(StrCat(
        "the daemon's socket ", api_socket,
        " is not there (is `jailwarden serve` running?); not sending the token to ",
        options.server, ", which any local process could be listening on. "
        "--server gives an address explicitly")));
  }
  options.ca_file = flags.cacert;
  if (!flags.pin.empty()) {
    options.pin = flags.pin;
  } else if (std::string env = Env("JAILWARDEN_PIN"); !env.empty()) {
    options.pin = env;
  } else if (options.ca_file.empty() && StartsWith(options.server, "https://")) {
    // The daemon's own key: the web config's certificate, else the pair it
    // generated. Unreadable (not root): no pin, and the system CAs refuse
    // the self-signed key before anything is sent.
    absl::StatusOr<std::string> pin = absl::NotFoundError("no pin");
    if (!web_config.empty()) {
      absl::StatusOr<api::WebConfig> wc = api::LoadWebConfig(web_config);
      if (wc.ok() && wc->tls.has_value()) pin = api::ReadPinFile(wc->tls->cert_file);
    }
    if (!pin.ok()) pin = api::ReadPinFile(StrCat(api::DaemonTlsDir(state_dir), "/pin"));
    if (pin.ok()) options.pin = *pin;
  }
  if (StartsWith(options.server, "unix:") && flags.token.empty() &&
      flags.token_file.empty()) {
    return api::Client(options);  // the socket needs no token: none is read
  }
  if (!flags.token.empty()) {
    options.token = flags.token;
  } else if (std::getenv("JAILWARDEN_TOKEN") != nullptr) {
    options.token = Env("JAILWARDEN_TOKEN");  // set but empty: no token
  } else {
    std::string file = !flags.token_file.empty() ? flags.token_file : token_file;
    if (file.empty()) file = StrCat(policy::kDefaultStateDir, "/token");
    absl::StatusOr<std::string> t = api::ReadTokenFile(file);
    if (t.ok()) {
      options.token = *t;
    } else if (!flags.token_file.empty()) {
      return t.status();  // asked for explicitly
    }
  }
  return api::Client(options);
}

namespace {
thread_local VerbShape* g_shape = nullptr;
}  // namespace

ScopedShapeRecorder::ScopedShapeRecorder(VerbShape* shape) : previous_(g_shape) {
  g_shape = shape;
}
ScopedShapeRecorder::~ScopedShapeRecorder() { g_shape = previous_; }

bool RecordShape(const CLI::App& app) {
  if (g_shape == nullptr) return false;
  g_shape->recorded = true;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_positional() && !o->nonpositional()) {
      g_shape->positionals.push_back(o->get_name());
      continue;
    }
    OptionShape shape;
    for (const std::string& s : o->get_snames()) shape.names.push_back(StrCat("-", s));
    for (const std::string& l : o->get_lnames()) shape.names.push_back(StrCat("--", l));
    shape.takes_value = o->get_type_size_max() > 0;
    shape.help = o->get_description();
    g_shape->options.push_back(std::move(shape));
  }
  return true;
}

std::optional<int> ParseArgs(CLI::App& app, const std::vector<std::string>& args,
                             CommandContext& ctx) {
  if (RecordShape(app)) return EX_OK;
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    ctx.out << app.help();
    return EX_OK;
  } catch (const CLI::CallForAllHelp&) {
    ctx.out << app.help("", CLI::AppFormatMode::All);
    return EX_OK;
  } catch (const CLI::ParseError& e) {
    ctx.err << app.get_name() << ": " << e.what() << "\n"
            << "see '" << app.get_name() << " --help'\n";
    return EX_USAGE;
  } catch (const std::exception& e) {
    ctx.err << app.get_name() << ": " << e.what() << "\n";
    return EX_SOFTWARE;
  }
  return std::nullopt;
}

int Fail(CommandContext& ctx, std::string_view verb, const absl::Status& status) {
  ctx.err << "jailwarden " << verb << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

void PrintJson(CommandContext& ctx, const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    ctx.out << body;
    if (!body.empty() && body.back() != '\n') ctx.out << "\n";
    return;
  }
  ctx.out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace jailwarden::cli
