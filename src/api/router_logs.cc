// GET /v1/jails/NAME/logs (issue 17): a jail's captured output
// (jailwarden/jail/logs.h) as NDJSON, one object per record:
//   {"time": RFC3339, "stream": "stdout", "source": "main", "line": "..."}
// Query: since (RFC 3339 time, or a duration back from now: "10m"), tail
// (the last N records), stream (stdout or stderr), follow=1 (then new
// records as they are written, until the client goes or the server stops;
// a stream slot like /v1/events, with keepalive blank lines). Bad values:
// 400 naming the parameter, nothing read.

#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "api/codec.h"
#include "api/json.h"
#include "api/router_impl.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/logs.h"

namespace jailwarden::api {
namespace {

Json RecordJson(const jail::LogRecord& r) {
  Json j = Json::object();
  j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", r.time, absl::UTCTimeZone());
  j["stream"] = r.stream;
  j["source"] = r.source;
  j["line"] = r.text;
  return j;
}

// The query's filters; InvalidArgument naming the bad parameter.
absl::StatusOr<jail::LogQuery> ParseQuery(const HttpRequest& req) {
  jail::LogQuery q;
  if (std::optional<std::string> since = req.Query("since"); since && !since->empty()) {
    absl::Duration back;
    std::string err;
    if (absl::ParseDuration(*since, &back) && back >= absl::ZeroDuration()) {
      q.since = absl::Now() - back;
    } else if (!absl::ParseTime(absl::RFC3339_full, *since, &q.since, &err)) {
      return absl::InvalidArgumentError(
          StrCat("query parameter 'since': expected an RFC 3339 time or a duration such as "
                 "10m, got '", *since, "'"));
    }
  }
  if (std::optional<std::string> tail = req.Query("tail"); tail && !tail->empty()) {
    std::optional<int64_t> n = ParseInt<int64_t>(*tail);
    if (!n.has_value() || *n < 0) {
      return absl::InvalidArgumentError(StrCat(
          "query parameter 'tail': expected a number of records (0 or more), got '", *tail, "'"));
    }
    q.tail = *n;
  }
  if (std::optional<std::string> stream = req.Query("stream"); stream && !stream->empty()) {
    if (*stream != "stdout" && *stream != "stderr") {
      return absl::InvalidArgumentError(StrCat(
          "query parameter 'stream': expected stdout or stderr, got '", *stream, "'"));
    }
    q.stream = *stream;
  }
  return q;
}

// A stream slot of the router, released when it goes out of scope.
class LogStreamSlot {
 public:
  LogStreamSlot(Router& router, const std::string& peer) : router_(router), peer_(peer) {
    refused_ = router_.AcquireStream(peer_);
    if (refused_.has_value()) router_.Reject(*refused_);
  }
  ~LogStreamSlot() {
    if (!refused_.has_value()) router_.ReleaseStream(peer_);
  }
  LogStreamSlot(const LogStreamSlot&) = delete;
  LogStreamSlot& operator=(const LogStreamSlot&) = delete;
  std::optional<RejectReason> refused() const { return refused_; }

 private:
  Router& router_;
  const std::string peer_;
  std::optional<RejectReason> refused_;
};

}  // namespace

void Router::Impl::JailLogs(const std::string& name) {
  absl::StatusOr<jail::LogQuery> q = ParseQuery(req_);
  if (!q.ok()) return SendError(q.status());
  absl::StatusOr<std::string> dir = d_.JailLogDir(name);
  if (!dir.ok()) return SendError(dir.status());
  const bool follow = req_.Query("follow").value_or("") == "1";
  jail::LogCursor cursor;
  absl::StatusOr<std::vector<jail::LogRecord>> records = jail::ReadLogs(*dir, *q, &cursor);
  if (!records.ok()) return SendError(records.status());
  std::optional<LogStreamSlot> slot;
  if (follow) {
    slot.emplace(r_, req_.remote_addr);
    if (slot->refused().has_value()) return RefuseStream(*slot->refused());
  }
  if (!out_.StartStream(200, "application/x-ndjson")) return;
  std::string chunk;
  for (const jail::LogRecord& r : *records) chunk += DumpJson(RecordJson(r)) + "\n";
  if (!chunk.empty() && !out_.Write(chunk)) return;
  absl::Time next_keepalive = absl::Now() + r_.options_.keepalive;
  while (follow && !r_.stopping_.load()) {
    absl::SleepFor(r_.options_.stream_poll);
    absl::StatusOr<std::vector<jail::LogRecord>> more = jail::ReadNewLogs(*dir, *q, &cursor);
    if (!more.ok()) break;
    chunk.clear();
    for (const jail::LogRecord& r : *more) chunk += DumpJson(RecordJson(r)) + "\n";
    if (!chunk.empty()) {
      if (!out_.Write(chunk)) return;
      next_keepalive = absl::Now() + r_.options_.keepalive;
    } else if (absl::Now() >= next_keepalive) {
      if (!out_.Write("\n")) return;  // NDJSON readers skip blank lines
      next_keepalive = absl::Now() + r_.options_.keepalive;
    }
  }
  out_.Finish();
}

}  // namespace jailwarden::api
