// `jailwarden logs NAME [-f] [--since T] [--tail N] [--stream S] [--json]`
// (issue 17): a jail's captured output, from GET /v1/jails/NAME/logs.
// Default form: "TIME SOURCE STREAM: line" per record; --json passes the
// daemon's NDJSON through.

#include <sysexits.h>

#include <string>

#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/strings.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

// A jail writes what it likes: control characters (terminal escapes) are
// shown as \xNN, never sent to the terminal.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int RunLogsVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Show a jail's captured output: its main process (command:) and its exec.* hooks, "
      "one line per record with time, source and stream.",
      "jailwarden logs");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  std::string name, since, stream;
  int64_t tail = -1;
  bool follow = false;
  app.add_option("name", name, "jail name")->required();
  app.add_flag("-f,--follow", follow, "keep printing new records as they are written");
  app.add_option("--since", since,
                 "only records at or after this time (RFC 3339) or this long ago (10m, 2h)");
  app.add_option("--tail", tail, "only the last N records")->check(CLI::NonNegativeNumber);
  app.add_option("--stream", stream, "only stdout or stderr")
      ->check(CLI::IsMember({"stdout", "stderr"}));
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "logs", client.status());
  std::string target = StrCat("/v1/jails/", api::UrlEncode(name), "/logs?");
  if (follow) target += "follow=1&";
  if (!since.empty()) target += StrCat("since=", api::UrlEncode(since), "&");
  if (tail >= 0) target += StrCat("tail=", tail, "&");
  if (!stream.empty()) target += StrCat("stream=", stream, "&");
  target.pop_back();
  std::string pending, error_body;
  auto on_data = [&](std::string_view data) {
    pending.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line = std::string_view(pending).substr(start, nl - start);
      if (line.empty()) continue;  // keepalive
      if (flags.json) {
        ctx.out << line << "\n";
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) continue;
      ctx.out << j.value("time", "") << " " << j.value("source", "") << " "
              << j.value("stream", "") << ": " << Printable(j.value("line", "")) << "\n";
    }
    pending.erase(0, start);
    ctx.out.flush();
    return true;
  };
  absl::StatusOr<int> status = client->Stream("GET", target, "", on_data, &error_body);
  if (!status.ok()) return Fail(ctx, "logs", status.status());
  if (*status < 200 || *status >= 300) {
    // The daemon's error, with its code and errno, as every verb shows it.
    absl::StatusOr<std::string> again = client->Call("GET", target);
    return Fail(ctx, "logs",
                again.ok() ? absl::InternalError(StrCat("HTTP ", *status, ": ", error_body))
                           : again.status());
  }
  return EX_OK;
}

}  // namespace jailwarden::cli
