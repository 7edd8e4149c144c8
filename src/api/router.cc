#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "api/codec.h"
#include "api/json.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/token.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/state_store.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::api {
namespace {

constexpr std::string_view kJson = "application/json";

void SendJson(ResponseWriter& out, int status, const Json& body,
              const std::vector<std::pair<std::string, std::string>>& headers =
                  {}) {
  out.Send(status, kJson, DumpJson(body) + "\n", headers);
}

void SendError(ResponseWriter& out, const absl::Status& status) {
  SendJson(out, HttpStatusFor(status), ErrorToJson(status));
}

void SendError(ResponseWriter& out, int http, std::string_view code,
               std::string_view message) {
  Json j = Json::object();
  j["error"] = std::string(message);
  j["code"] = std::string(code);
  std::vector<std::pair<std::string, std::string>> headers;
  if (http == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  SendJson(out, http, j, headers);
}

Json Ok() {
  Json j = Json::object();
  j["ok"] = true;
  return j;
}

// Decrements a counter when it goes out of scope.
class StreamSlot {
 public:
  StreamSlot(std::atomic<int>& counter, int max) : counter_(counter) {
    ok_ = counter_.fetch_add(1) < max;
  }
  ~StreamSlot() { counter_.fetch_sub(1); }
  bool ok() const { return ok_; }

 private:
  std::atomic<int>& counter_;
  bool ok_;
};

// Path segments: "/v1/jails/web/start" -> {"v1", "jails", "web", "start"}.
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view s : Split(path, '/')) {
    if (!s.empty()) out.emplace_back(s);
  }
  return out;
}

int64_t UserValue(rctl::Resource r, int64_t kernel) {
  return rctl::IsInMillions(r) ? kernel / 1000000 : kernel;
}

}  // namespace

class Router::Impl {
 public:
  Impl(Router& router, const HttpRequest& request, ResponseWriter& out)
      : r_(router), d_(router.daemon_), req_(request), out_(out) {}

  void Run() {
    const std::vector<std::string> seg = Segments(req_.path);
    const std::string& m = req_.method;
    // Health checks are always open.
    if (seg.size() == 1 && seg[0] == "healthz") {
      Json j = Json::object();
      j["status"] = "ok";
      return SendJson(out_, 200, j);
    }
    if (seg.size() == 1 && seg[0] == "readyz") {
      const bool ready = d_.Status().ready;
      Json j = Json::object();
      j["ready"] = ready;
      return SendJson(out_, ready ? 200 : 503, j);
    }
    if (seg.empty() || seg[0] != "v1") {
      return SendError(out_, 404, "NOT_FOUND",
                       StrCat("no such endpoint: ", m, " ", req_.path));
    }
    if (!Authorized()) return;
    if (req_.body_too_large) {
      return SendError(out_, 413, "PAYLOAD_TOO_LARGE",
                       StrCat("request body exceeds ", r_.options_.max_body_bytes,
                              " bytes"));
    }
    if (seg.size() == 2 && seg[1] == "status") {
      if (m != "GET") return MethodNotAllowed("GET");
      return SendJson(out_, 200, StatusToJson(d_.Status()));
    }
    if (seg.size() >= 2 && seg[1] == "jails") return Jails(seg);
    if (seg.size() == 2 && seg[1] == "run") {
      if (m != "POST") return MethodNotAllowed("POST");
      return RunOneShot();
    }
    if (seg.size() == 2 && seg[1] == "rules") return Rules();
    if (seg.size() == 2 && seg[1] == "limits") {
      if (m != "GET") return MethodNotAllowed("GET");
      return RctlText("limits", d_.Rctl().GetLimits(FilterParam("filter")));
    }
    if (seg.size() == 2 && seg[1] == "usage") {
      if (m != "GET") return MethodNotAllowed("GET");
      return Usage();
    }
    if (seg.size() == 2 && seg[1] == "top") {
      if (m != "GET") return MethodNotAllowed("GET");
      return Top();
    }
    if (seg.size() == 2 && seg[1] == "events") {
      if (m != "GET") return MethodNotAllowed("GET");
      return Events();
    }
    if (seg.size() == 2 && seg[1] == "apply") {
      if (m != "POST") return MethodNotAllowed("POST");
      return Apply();
    }
    SendError(out_, 404, "NOT_FOUND",
              StrCat("no such endpoint: ", m, " ", req_.path));
  }

 private:
  // GET (and HEAD) from loopback is open; the rest needs the token.
  bool Authorized() {
    const bool read_only = req_.method == "GET" || req_.method == "HEAD";
    if (read_only && req_.remote_is_loopback) return true;
    const std::string auth = req_.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.empty()) {
      SendError(out_, 401, "UNAUTHENTICATED",
                "this request needs 'Authorization: Bearer <token>' (the "
                "daemon's token file)");
      return false;
    }
    if (!StartsWith(auth, kBearer) ||
        !TokensEqual(StripWhitespace(std::string_view(auth).substr(kBearer.size())),
                     r_.options_.token)) {
      SendError(out_, 403, "PERMISSION_DENIED", "bad bearer token");
      return false;
    }
    return true;
  }

  void MethodNotAllowed(std::string_view allowed) {
    Json j = Json::object();
    j["error"] = StrCat(req_.method, " not allowed on ", req_.path,
                        "; allowed: ", allowed);
    j["code"] = "METHOD_NOT_ALLOWED";
    SendJson(out_, 405, j, {{"Allow", std::string(allowed)}});
  }

  // The body as a JSON object (an empty body is {}).
  absl::StatusOr<Json> Body() {
    if (StripWhitespace(req_.body).empty()) return Json::object();
    JW_ASSIGN_OR_RETURN(Json j, ParseJson(req_.body));
    JW_RETURN_IF_ERROR(RequireObject(j, "request body"));
    return j;
  }

  std::string FilterParam(std::string_view key) {
    return req_.Query(key).value_or("");
  }

  void Jails(const std::vector<std::string>& seg) {
    const std::string& m = req_.method;
    if (seg.size() == 2) {
      if (m == "GET") {
        Json list = Json::array();
        for (const JailInfo& j : d_.ListJails()) list.push_back(JailInfoToJson(j));
        Json j = Json::object();
        j["jails"] = std::move(list);
        return SendJson(out_, 200, j);
      }
      if (m == "POST") return CreateJail();
      return MethodNotAllowed("GET, POST");
    }
    const std::string& name = seg[2];
    if (seg.size() == 3) {
      if (m == "GET") {
        absl::StatusOr<JailInfo> j = d_.GetJail(name);
        if (!j.ok()) return SendError(out_, j.status());
        return SendJson(out_, 200, JailInfoToJson(*j));
      }
      if (m == "DELETE") return Done(d_.DestroyJail(name));
      return MethodNotAllowed("GET, DELETE");
    }
    if (seg.size() == 4) {
      const std::string& action = seg[3];
      if (action == "usage") {
        if (m != "GET") return MethodNotAllowed("GET");
        return JailUsage(name);
      }
      if (m != "POST") return MethodNotAllowed("POST");
      absl::StatusOr<Json> body = Body();
      if (!body.ok()) return SendError(out_, body.status());
      if (action == "start") return Done(d_.StartJail(name));
      if (action == "stop") return Done(d_.StopJail(name));
      if (action == "restart") return Done(d_.RestartJail(name));
      if (action == "exec") return Exec(name, *body);
    }
    SendError(out_, 404, "NOT_FOUND",
              StrCat("no such endpoint: ", m, " ", req_.path));
  }

  void Done(const absl::Status& status) {
    if (!status.ok()) return SendError(out_, status);
    SendJson(out_, 200, Ok());
  }

  // {"spec": {config.json form}} or {"template": T}, plus "name",
  // "limits" and "start".
  absl::Status ParseJailSource(const Json& body, platform::JailSpec* spec,
                               std::string* template_name,
                               std::vector<std::string>* limits) {
    Json spec_json;
    JW_RETURN_IF_ERROR(ReadObject(body, "spec", &spec_json));
    JW_RETURN_IF_ERROR(ReadString(body, "template", template_name));
    JW_RETURN_IF_ERROR(ReadStringList(body, "limits", limits));
    if (!spec_json.is_null()) {
      JW_ASSIGN_OR_RETURN(*spec, jail::SpecFromJson(DumpJson(spec_json)));
    }
    std::string name;
    JW_RETURN_IF_ERROR(ReadString(body, "name", &name));
    if (!name.empty()) spec->name = name;
    if (spec_json.is_null() && template_name->empty() && spec->name.empty()) {
      return absl::InvalidArgumentError(
          "give a 'spec' (jail config) or a 'template', and a 'name'");
    }
    return absl::OkStatus();
  }

  void CreateJail() {
    absl::StatusOr<Json> body = Body();
    if (!body.ok()) return SendError(out_, body.status());
    CreateJailRequest request;
    absl::Status s = ParseJailSource(*body, &request.spec, &request.template_name,
                                     &request.limits);
    if (s.ok()) s = ReadBool(*body, "start", &request.start);
    if (!s.ok()) return SendError(out_, s);
    s = d_.CreateJail(request);
    if (!s.ok()) return SendError(out_, s);
    absl::StatusOr<JailInfo> info = d_.GetJail(request.spec.name);
    if (!info.ok()) return SendJson(out_, 201, Ok());
    SendJson(out_, 201, JailInfoToJson(*info));
  }

  absl::Status ParseExec(const Json& body, platform::ExecRequest* exec) {
    JW_RETURN_IF_ERROR(ReadStringList(body, "argv", &exec->argv));
    JW_RETURN_IF_ERROR(ReadStringMap(body, "env", &exec->env));
    JW_RETURN_IF_ERROR(ReadBool(body, "clean_env", &exec->clean_env));
    int64_t timeout_ms = 0;
    JW_RETURN_IF_ERROR(ReadInt(body, "timeout_ms", &timeout_ms));
    if (timeout_ms < 0) {
      return absl::InvalidArgumentError("field 'timeout_ms' must be >= 0");
    }
    exec->timeout = absl::Milliseconds(timeout_ms);
    if (exec->argv.empty()) {
      return absl::InvalidArgumentError("field 'argv' must name a command");
    }
    return absl::OkStatus();
  }

  void Exec(const std::string& name, const Json& body) {
    platform::ExecRequest exec;
    if (absl::Status s = ParseExec(body, &exec); !s.ok()) {
      return SendError(out_, s);
    }
    absl::StatusOr<JailInfo> info = d_.GetJail(name);
    if (!info.ok()) return SendError(out_, info.status());
    if (info->state != "running") {
      return SendError(out_, absl::FailedPreconditionError(
                                 ToAbsl(StrCat("jail ", name, " is not running"))));
    }
    StreamCommand(exec, [this, name](const platform::ExecRequest& r) {
      return d_.Exec(name, r);
    });
  }

  void RunOneShot() {
    absl::StatusOr<Json> body = Body();
    if (!body.ok()) return SendError(out_, body.status());
    RunRequest run;
    platform::ExecRequest exec;
    absl::Status s =
        ParseJailSource(*body, &run.spec, &run.template_name, &run.limits);
    if (s.ok()) s = ParseExec(*body, &exec);
    if (!s.ok()) return SendError(out_, s);
    StreamCommand(exec, [this, run](const platform::ExecRequest& r) {
      return d_.Run(run, r);
    });
  }

  // Runs `call` on its own thread with stdout/stderr on pipes and streams
  // NDJSON lines: {"stream":"stdout","data":...} ... then one final
  // {"exit_code":N,"signal":S,"timed_out":B} or {"error":...}.
  void StreamCommand(
      platform::ExecRequest exec,
      const std::function<absl::StatusOr<platform::ExecResult>(
          const platform::ExecRequest&)>& call) {
    StreamSlot slot(r_.streams_, r_.options_.max_streams);
    if (!slot.ok()) {
      return SendError(out_, 503, "UNAVAILABLE", "too many open streams");
    }
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
      return SendError(out_, ErrnoStatus(errno, "pipe2"));
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
      const absl::Status s = ErrnoStatus(errno, "pipe2");
      close(out_pipe[0]);
      close(out_pipe[1]);
      return SendError(out_, s);
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
    } else {
      last = ErrorToJson(result.status());
    }
    if (client) out_.Write(DumpJson(last) + "\n");
    out_.Finish();
  }

  void Rules() {
    const std::string& m = req_.method;
    if (m == "GET") {
      const std::string filter = FilterParam("filter");
      if (req_.Query("fidelity").value_or("") == "1") {
        absl::StatusOr<std::vector<RuleInfo>> rules =
            d_.DescribeRules(filter.empty() ? "::" : filter);
        if (!rules.ok()) return SendError(out_, rules.status());
        Json list = Json::array();
        std::vector<std::string> texts;
        for (const RuleInfo& r : *rules) {
          list.push_back(RuleInfoToJson(r));
          texts.push_back(r.rule);
        }
        Json j = Json::object();
        j["rules"] = Join(texts, ",");
        j["list"] = std::move(list);
        return SendJson(out_, 200, j);
      }
      return RctlText("rules", d_.Rctl().GetRules(filter.empty() ? "::" : filter));
    }
    if (m == "POST") {
      absl::StatusOr<Json> body = Body();
      if (!body.ok()) return SendError(out_, body.status());
      std::string rule;
      if (absl::Status s = ReadString(*body, "rule", &rule); !s.ok()) {
        return SendError(out_, s);
      }
      if (rule.empty()) {
        return SendError(out_, ErrnoStatusWithMessage(
                                   EINVAL, "field 'rule' must be a rule"));
      }
      return Done(d_.Rctl().AddRule(rule));
    }
    if (m == "DELETE") {
      const std::optional<std::string> filter = req_.Query("filter");
      if (!filter.has_value()) {
        return SendError(out_, ErrnoStatusWithMessage(
                                   EINVAL, "query parameter 'filter' is required"));
      }
      return Done(d_.Rctl().RemoveRule(*filter));
    }
    MethodNotAllowed("GET, POST, DELETE");
  }

  void RctlText(std::string_view field, const absl::StatusOr<std::string>& text) {
    if (!text.ok()) return SendError(out_, text.status());
    Json j = Json::object();
    j[std::string(field)] = *text;
    SendJson(out_, 200, j);
  }

  void Usage() {
    const std::string subject = FilterParam("subject");
    absl::StatusOr<std::string> text = d_.Rctl().GetRacct(subject);
    if (!text.ok()) return SendError(out_, text.status());
    Json j = Json::object();
    j["subject"] = subject;
    j["usage"] = *text;
    Json values = Json::object();
    Json human = Json::object();
    Json order = Json::array();
    for (std::string_view pair : Split(*text, ',')) {
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string name(pair.substr(0, eq));
      values[name] = ParseInt<int64_t>(pair.substr(eq + 1)).value_or(0);
      const std::string shown = rctl::DisplayUsagePair(pair, true);
      const std::size_t seq = shown.find('=');
      human[name] = seq == std::string::npos ? shown : shown.substr(seq + 1);
      order.push_back(name);
    }
    j["values"] = std::move(values);
    j["human"] = std::move(human);
    j["resources"] = std::move(order);
    SendJson(out_, 200, j);
  }

  // Every jail's usage from the latest snapshot, in user units.
  std::vector<UsageRow> UsageRows(std::string_view only) {
    std::vector<UsageRow> rows;
    const std::shared_ptr<const racct::Snapshot> snap = d_.LatestSnapshot();
    for (const JailInfo& info : d_.ListJails()) {
      if (!only.empty() && info.name != only) continue;
      UsageRow row;
      row.name = info.name;
      row.jid = info.jid;
      row.state = info.state;
      if (snap != nullptr) {
        const std::optional<uint32_t> slot = snap->jails().Find(info.name);
        if (slot.has_value()) {
          const rctl::UsageVector& u = snap->usage(*slot);
          const racct::ResourceMask& present = snap->tick->present[*slot];
          for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
            if (!present.test(i)) continue;
            const rctl::Resource res = rctl::ResourceAt(i);
            row.usage.emplace_back(std::string(rctl::ResourceName(res)),
                                   UserValue(res, u[i]));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  void JailUsage(const std::string& name) {
    absl::StatusOr<JailInfo> info = d_.GetJail(name);
    if (!info.ok()) return SendError(out_, info.status());
    std::vector<UsageRow> rows = UsageRows(name);
    if (rows.empty()) {
      return SendError(out_, absl::NotFoundError(ToAbsl(StrCat("no jail ", name))));
    }
    SendJson(out_, 200, UsageRowToJson(rows[0]));
  }

  void Top() {
    Json list = Json::array();
    for (const UsageRow& row : UsageRows("")) list.push_back(UsageRowToJson(row));
    Json j = Json::object();
    const std::shared_ptr<const racct::Snapshot> snap = d_.LatestSnapshot();
    j["seq"] = snap == nullptr ? 0 : snap->seq;
    j["ncpu"] = snap == nullptr ? 1 : snap->ncpu;
    j["jails"] = std::move(list);
    SendJson(out_, 200, j);
  }

  void Events() {
    StreamSlot slot(r_.streams_, r_.options_.max_streams);
    if (!slot.ok()) {
      return SendError(out_, 503, "UNAVAILABLE", "too many open streams");
    }
    engine::EventStream& events = d_.Events();
    uint64_t after = events.last_seq();
    std::string last_id = req_.Header("last-event-id");
    if (std::optional<std::string> a = req_.Query("after"); a.has_value()) {
      last_id = *a;
    }
    if (!last_id.empty()) {
      const std::optional<uint64_t> v = ParseInt<uint64_t>(last_id);
      if (!v.has_value()) {
        return SendError(out_, absl::InvalidArgumentError(
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
        StrAppend(&chunk, "id: ", e.seq, "\nevent: rctl\ndata: ", e.line, "\n\n");
        after = e.seq;
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
      absl::SleepFor(r_.options_.stream_poll);
    }
    out_.Finish();
  }

  void Apply() {
    absl::StatusOr<Json> body = Body();
    if (!body.ok()) return SendError(out_, body.status());
    std::string text, filename = "policy";
    bool dry_run = false;
    absl::Status s = ReadString(*body, "policy", &text);
    if (s.ok()) s = ReadString(*body, "filename", &filename);
    if (s.ok()) s = ReadBool(*body, "dry_run", &dry_run);
    if (!s.ok()) return SendError(out_, s);
    absl::StatusOr<ApplyResult> result = d_.Apply(text, filename, dry_run);
    if (!result.ok()) {
      Json j = ErrorToJson(result.status());
      if (result.status().code() == absl::StatusCode::kInvalidArgument) {
        Json lines = Json::array();
        for (std::string_view l : Split(ToStd(result.status().message()), '\n')) {
          if (!l.empty()) lines.push_back(std::string(l));
        }
        j["errors"] = std::move(lines);
        return SendJson(out_, 422, j);
      }
      return SendJson(out_, HttpStatusFor(result.status()), j);
    }
    Json j = Json::object();
    j["changed"] = result->changed;
    j["diff"] = result->diff;
    j["dry_run"] = dry_run;
    j["failures"] = result->failures;
    SendJson(out_, 200, j);
  }

  Router& r_;
  Daemon& d_;
  const HttpRequest& req_;
  ResponseWriter& out_;
};

Router::Router(Daemon& daemon, RouterOptions options)
    : daemon_(daemon), options_(std::move(options)) {}

void Router::Handle(const HttpRequest& request, ResponseWriter& out) {
  Impl(*this, request, out).Run();
}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(
    Daemon& daemon, ApiServerOptions options) {
  if (options.router.token.empty()) {
    return absl::InvalidArgumentError("the API needs a token");
  }
  options.http.max_body_bytes = options.router.max_body_bytes;
  // Streams hold a worker each; keep workers for ordinary requests.
  if (options.http.num_threads < options.router.max_streams + 4) {
    options.http.num_threads = options.router.max_streams + 4;
  }
  std::unique_ptr<ApiServer> server(new ApiServer());
  server->router_ = std::make_unique<Router>(daemon, options.router);
  Router* router = server->router_.get();
  JW_ASSIGN_OR_RETURN(
      server->http_,
      HttpServer::Start(options.http,
                        [router](const HttpRequest& req, ResponseWriter& out) {
                          router->Handle(req, out);
                        }));
  return server;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (router_ != nullptr) router_->Shutdown();
  if (http_ != nullptr) http_->Stop();
}

}  // namespace jailwarden::api
