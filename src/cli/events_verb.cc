#include "cli/events_verb.h"

#include <sysexits.h>

#include <cstdint>
#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/common.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/checks.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

using nlohmann::json;

// "key=value" for one detail (strings with spaces quoted).
std::string DetailText(const std::string& key, const json& v) {
  std::string value;
  if (v.is_string()) {
    value = v.get<std::string>();
    if (value.find_first_of(" \t\"") != std::string::npos) value = json(value).dump();
  } else {
    value = v.dump();
  }
  return StrCat(key, "=", value);
}

// One event as a line: "ID TIME TYPE JAIL details...", "-" for no jail;
// a limit event's details are its devctl line.
std::string EventLine(const json& e) {
  std::string jail = e.value("jail", "");
  if (jail.empty()) jail = "-";
  std::string line = StrCat(e.value("id", uint64_t{0}), "  ", e.value("time", ""), "  ",
                            e.value("type", ""), "  ", jail);
  const auto details = e.find("details");
  if (details != e.end() && details->is_object()) {
    if (e.value("type", "") == "limit" && details->contains("line")) {
      StrAppend(&line, "  ", (*details)["line"].is_string()
                                 ? (*details)["line"].get<std::string>()
                                 : (*details)["line"].dump());
    } else {
      for (auto it = details->begin(); it != details->end(); ++it) {
        StrAppend(&line, "  ", DetailText(it.key(), it.value()));
      }
    }
  }
  return line;
}

}  // namespace

int RunEventsVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "The daemon's event log: jails created, started, stopped, restarted, destroyed, "
      "their main process exiting, OOM kills, health changes, rule matches (limit) and "
      "policy reloads. Each event has an id; --since ID shows those after it, and -f "
      "resumes after the last one shown when the connection breaks.",
      "jailwarden events");
  ConnectionFlags flags;
  AddConnectionFlags(app, flags);
  bool follow = false;
  std::string jail;
  std::string types;
  uint64_t since = 0;
  int64_t count = 0;
  app.add_flag("-f,--follow", follow, "keep printing new events (reconnects and resumes)");
  app.add_option("--jail", jail, "only this jail's events");
  app.add_option("--type", types, "only these types (comma-separated)");
  CLI::Option* since_given =
      app.add_option("--since", since, "only events after this id (default: all held; -f: new)");
  app.add_option("--count", count, "exit after this many events")->check(CLI::PositiveNumber);
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
  if (!jail.empty()) {
    if (std::optional<std::string> why = policy::JailNameProblem(jail)) {
      ctx.err << "jailwarden events: --jail '" << jail << "': " << *why << "\n";
      return EX_USAGE;
    }
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) return Fail(ctx, "events", client.status());
  if (follow) {
    // No time limit on the stream; the daemon's keep-alives (15 s) keep
    // a quiet one open.
    api::ClientOptions o = client->options();
    o.max_time = absl::ZeroDuration();
    o.timeout = absl::Seconds(60);
    client.emplace(o);
  }
  uint64_t after = 0;
  if (since_given->count() > 0) {
    after = since;
  } else if (follow) {
    // From now: the id of the last event the daemon has.
    absl::StatusOr<api::DaemonStatus> st = client->Status();
    if (!st.ok()) return Fail(ctx, "events", st.status());
    after = st->events;
  }
  int64_t shown = 0;
  absl::Duration backoff = absl::Milliseconds(250);
  while (true) {
    std::string query = StrCat("since=", after, "&follow=", follow ? "1" : "0");
    // Encoded: a value is one query parameter whatever it holds (the
    // daemon checks the name again and every type).
    if (!jail.empty()) StrAppend(&query, "&jail=", api::UrlEncode(jail));
    if (!types.empty()) StrAppend(&query, "&type=", api::UrlEncode(types));
    bool done = false;
    absl::Status s = client->Events(query, [&](std::string_view text) {
      json e = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (e.is_discarded() || !e.is_object()) {
        ctx.err << "jailwarden events: the daemon sent a line that is not JSON: "
                << text.substr(0, 200) << "\n";
        return true;
      }
      const std::string type = e.value("type", "");
      if (type == "keepalive") return true;
      backoff = absl::Milliseconds(250);
      if (type == "gap") {
        if (flags.json) {
          ctx.out << text << "\n";
        } else {
          ctx.out << "-- " << e.value("missed", uint64_t{0}) << " events missed (ids "
                  << e.value("from", uint64_t{0}) << ".." << e.value("to", uint64_t{0})
                  << "): no longer held by the daemon --\n";
        }
        return true;
      }
      after = std::max(after, e.value("id", after));
      if (flags.json) {
        ctx.out << text << "\n";
      } else {
        ctx.out << EventLine(e) << "\n";
      }
      ctx.out.flush();
      if (count > 0 && ++shown >= count) {
        done = true;
        return false;
      }
      return true;
    });
    if (done) return EX_OK;
    if (s.ok() && !follow) return EX_OK;
    if (!s.ok() && (!follow || s.code() != absl::StatusCode::kUnavailable)) {
      return Fail(ctx, "events", s);
    }
    // The stream ended or broke: resume after the last id shown.
    ctx.err << "jailwarden events: "
            << (s.ok() ? std::string("the daemon ended the stream") : std::string(s.message()))
            << "; reconnecting after id " << after << "\n";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

}  // namespace jailwarden::cli
