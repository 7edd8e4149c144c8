// The answers that stream: a command's output (exec, run) as NDJSON and
// the event log (/v1/events) as NDJSON or, for rctl lines, Server-Sent
// Events. Each holds its handler thread
// worker until it ends; RouterOptions::max_streams bounds how many do.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

#include "api/codec.h"
#include "api/json.h"
#include "api/router_impl.h"
#include "jailwarden/api/exec_frames.h"
#include "jailwarden/api/exec_session.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {


// A stream slot of the router, released when it goes out of scope.
class StreamSlot {
 public:
  StreamSlot(Router& router, const std::string& peer) : router_(router), peer_(peer) {
    refused_ = router_.AcquireStream(peer_);
    if (refused_.has_value()) router_.Reject(*refused_);
  }
  ~StreamSlot() {
    if (!refused_.has_value()) router_.ReleaseStream(peer_);
  }
  std::optional<RejectReason> refused() const { return refused_; }

 private:
  Router& router_;
  const std::string peer_;
  std::optional<RejectReason> refused_;
};

}  // namespace

// Runs `call` on its own thread with stdout/stderr on pipes and streams
// NDJSON lines: {"stream":"stdout","data":...} ... then one final
// {"exit_code":N,"signal":S,"timed_out":B[,"exec_error":"ARGV0: why"]} or
// {"error":...}.
void Router::Impl::StreamCommand(
    platform::ExecRequest exec,
    const std::function<absl::StatusOr<platform::ExecResult>(
        const platform::ExecRequest&)>& call) {
  StreamSlot slot(r_, req_.remote_addr);
  if (slot.refused().has_value()) return RefuseStream(*slot.refused());
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return SendError(ErrnoStatus(errno, "pipe2"));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    const absl::Status s = ErrnoStatus(errno, "pipe2");
    close(out_pipe[0]);
    close(out_pipe[1]);
    return SendError(s);
  }
  exec.stdout_fd = out_pipe[1];
  exec.stderr_fd = err_pipe[1];
  std::atomic<bool> done{false};
  absl::StatusOr<platform::ExecResult> result =
      absl::UnknownError("not run");
  std::thread runner([&] {
    result = call(exec);
    close(out_pipe[1]);
    close(err_pipe[1]);
    done.store(true);
  });
  bool client = out_.StartStream(200, "application/x-ndjson");
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  bool open[2] = {true, true};
  absl::Time drain_deadline = absl::InfiniteFuture();
  char buf[8192];
  while (open[0] || open[1]) {
    if (done.load() && drain_deadline == absl::InfiniteFuture()) {
      // Something the command started may hold the pipes open; read
      // what is there, briefly, then stop.
      drain_deadline = absl::Now() + absl::Milliseconds(200);
    }
    if (absl::Now() > drain_deadline) break;
    for (int i = 0; i < 2; ++i) fds[i].fd = open[i] ? (i == 0 ? out_pipe[0] : err_pipe[0]) : -1;
    const int n = poll(fds, 2, 50);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        open[i] = false;
        continue;
      }
      if (client) {
        Json line = Json::object();
        line["stream"] = i == 0 ? "stdout" : "stderr";
        line["data"] = std::string(buf, static_cast<std::size_t>(got));
        client = out_.Write(DumpJson(line) + "\n");
      }
    }
  }
  runner.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  Json last = Json::object();
  if (result.ok()) {
    last["exit_code"] = result->exit_code;
    last["signal"] = result->term_signal;
    last["timed_out"] = result->timed_out;
    if (result->exec_errno != 0) {
      // The child's own word on why argv[0] did not run, as a shell says it.
      last["exec_error"] = ExecErrorText(exec.argv, result->exec_errno);
    }
  } else {
    last = ErrorToJson(result.status());
  }
  if (client) out_.Write(DumpJson(last) + "\n");
  out_.Finish();
}

void Router::Impl::ExecSession(const std::string& name) {
  absl::StatusOr<ExecSessionRequest> request = ExecSessionRequestFromJson(req_.body);
  if (!request.ok()) return SendError(request.status());
  absl::StatusOr<JailInfo> info = d_.GetJail(name);
  if (!info.ok()) return SendError(info.status());
  if (info->state != "running") {
    return SendError(absl::FailedPreconditionError(
        ToAbsl(StrCat("jail ", name, " is not running"))));
  }
  StreamSlot slot(r_, req_.remote_addr);
  if (slot.refused().has_value()) return RefuseStream(*slot.refused());
  absl::StatusOr<base::UniqueFd> conn = out_.Upgrade(kExecProtocol, {});
  if (!conn.ok()) {
    // Unavailable: the client went away first; nothing to answer.
    if (conn.status().code() != absl::StatusCode::kUnavailable) SendError(conn.status());
    return;
  }
  ServeExecSession(conn->release(), *std::move(request),
                   [this, name](const platform::ExecRequest& r) { return d_.Exec(name, r); });
}

// GET /v1/events. Two forms over the one event log (engine::EventStream):
//  - NDJSON (with ?since=ID, ?jail=, ?type=, ?format=ndjson or an Accept
//    of application/x-ndjson): every event type as one JSON object a line,
//    replayed from `since` then followed; a resume point that fell out of
//    the ring is told by {"type":"gap",...}; silence is broken by
//    {"type":"keepalive"} lines.
//  - Server-Sent Events (otherwise; the form before the event log): the
//    "limit" events' devctl lines only, `id:` the event id.
void Router::Impl::Events() {
  const bool ndjson = req_.Query("since").has_value() || req_.Query("jail").has_value() ||
                      req_.Query("type").has_value() ||
                      req_.Query("format").value_or("") == "ndjson" ||
                      req_.Header("accept").find("application/x-ndjson") != std::string::npos;
  if (ndjson) return EventsNdjson();
  StreamSlot slot(r_, req_.remote_addr);
  if (slot.refused().has_value()) return RefuseStream(*slot.refused());
  engine::EventStream& events = d_.Events();
  uint64_t after = events.last_seq();
  std::string last_id = req_.Header("last-event-id");
  if (std::optional<std::string> a = req_.Query("after"); a.has_value()) {
    last_id = *a;
  }
  if (!last_id.empty()) {
    const std::optional<uint64_t> v = ParseInt<uint64_t>(last_id);
    if (!v.has_value()) {
      return SendError(absl::InvalidArgumentError(
                                 "'after' must be an event sequence number"));
    }
    after = *v;
  }
  const int64_t max_events =
      ParseInt<int64_t>(req_.Query("max").value_or("")).value_or(0);
  const int64_t timeout_ms =
      ParseInt<int64_t>(req_.Query("timeout_ms").value_or("")).value_or(0);
  const absl::Time deadline = timeout_ms > 0
                                  ? absl::Now() + absl::Milliseconds(timeout_ms)
                                  : absl::InfiniteFuture();
  if (!out_.StartStream(200, "text/event-stream")) return;
  int64_t sent = 0;
  absl::Time next_keepalive = absl::Now() + r_.options_.keepalive;
  if (!out_.Write(": jailwarden rctl events\n\n")) return;
  while (!r_.stopping_.load() && absl::Now() < deadline) {
    uint64_t dropped = 0;
    std::string chunk;
    for (const engine::EventStream::Event& e : events.Read(after, &dropped)) {
      after = e.seq;
      if (e.type != engine::kEventLimit) continue;
      StrAppend(&chunk, "id: ", e.seq, "\nevent: rctl\ndata: ", e.line, "\n\n");
      if (max_events > 0 && ++sent >= max_events) break;
    }
    if (dropped > 0) {
      chunk = StrCat(": ", dropped, " events dropped\n\n", chunk);
    }
    if (!chunk.empty()) {
      if (!out_.Write(chunk)) return;
      next_keepalive = absl::Now() + r_.options_.keepalive;
    }
    if (max_events > 0 && sent >= max_events) break;
    if (absl::Now() >= next_keepalive) {
      if (!out_.Write(": keepalive\n\n")) return;
      next_keepalive = absl::Now() + r_.options_.keepalive;
    }
    (void)events.WaitFor(after, std::min(r_.options_.stream_poll, deadline - absl::Now()));
  }
  out_.Finish();
}

void Router::Impl::EventsNdjson() {
  engine::EventStream& events = d_.Events();
  uint64_t after = events.last_seq();
  if (std::optional<std::string> since = req_.Query("since"); since.has_value()) {
    const std::optional<uint64_t> v = ParseInt<uint64_t>(*since);
    if (!v.has_value()) {
      return SendError(absl::InvalidArgumentError(
          ToAbsl(StrCat("query 'since': '", *since, "' is not an event id (0 or more)"))));
    }
    after = *v;
  }
  const std::optional<std::string> jail_query = req_.Query("jail");
  if (jail_query.has_value()) {
    // The same check as a jail name in the path: ?jail=j01%00x must not
    // quietly match nothing (or, cut at the NUL, another jail).
    if (std::optional<std::string> why = JailNameProblem(*jail_query)) {
      return SendError(
          absl::InvalidArgumentError(ToAbsl(StrCat("jail name in query 'jail' ", *why))));
    }
  }
  const std::string jail = jail_query.value_or("");
  std::vector<std::string> types;
  if (std::optional<std::string> t = req_.Query("type"); t.has_value()) {
    for (std::string_view one : Split(*t, ',')) {
      if (!engine::IsEventType(one)) {
        std::vector<std::string_view> all = engine::EventTypes();
        return SendError(absl::InvalidArgumentError(ToAbsl(StrCat(
            "query 'type': unknown event type '", one, "' (one of ", Join(all, ", "), ")"))));
      }
      types.emplace_back(one);
    }
  }
  const std::string follow = req_.Query("follow").value_or("1");
  if (follow != "0" && follow != "1") {
    return SendError(absl::InvalidArgumentError(
        ToAbsl(StrCat("query 'follow': '", follow, "' is not 0 or 1"))));
  }
  const int64_t max_events = ParseInt<int64_t>(req_.Query("max").value_or("")).value_or(0);
  const int64_t timeout_ms =
      ParseInt<int64_t>(req_.Query("timeout_ms").value_or("")).value_or(0);
  const absl::Time deadline = timeout_ms > 0 ? absl::Now() + absl::Milliseconds(timeout_ms)
                                             : absl::InfiniteFuture();
  StreamSlot slot(r_, req_.remote_addr);
  if (slot.refused().has_value()) return RefuseStream(*slot.refused());
  if (!out_.StartStream(200, "application/x-ndjson")) return;
  int64_t sent = 0;
  absl::Time next_keepalive = absl::Now() + r_.options_.keepalive;
  auto wanted = [&](const engine::EventStream::Event& e) {
    if (!jail.empty() && e.jail != jail) return false;
    return types.empty() || std::find(types.begin(), types.end(), e.type) != types.end();
  };
  while (!r_.stopping_.load() && absl::Now() < deadline) {
    uint64_t dropped = 0;
    std::string chunk;
    const uint64_t from = after;
    const std::vector<engine::EventStream::Event> batch = events.Read(after, &dropped);
    if (dropped > 0) {
      Json gap = Json::object();
      gap["type"] = "gap";
      gap["from"] = from + 1;
      gap["to"] = from + dropped;
      gap["missed"] = dropped;
      StrAppend(&chunk, DumpJson(gap), "\n");
      after = from + dropped;  // told once
    }
    for (const engine::EventStream::Event& e : batch) {
      after = e.seq;
      if (!wanted(e)) continue;
      StrAppend(&chunk, DumpJson(EventToJson(e)), "\n");
      if (max_events > 0 && ++sent >= max_events) break;
    }
    if (!chunk.empty()) {
      if (!out_.Write(chunk)) return;
      next_keepalive = absl::Now() + r_.options_.keepalive;
    }
    if (max_events > 0 && sent >= max_events) break;
    if (follow == "0") break;
    if (absl::Now() >= next_keepalive) {
      if (!out_.Write("{\"type\":\"keepalive\"}\n")) return;
      next_keepalive = absl::Now() + r_.options_.keepalive;
    }
    (void)events.WaitFor(after, std::min(r_.options_.stream_poll, deadline - absl::Now()));
  }
  out_.Finish();
}

}  // namespace jailwarden::api
