#include "platform/freebsd/main_host_wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

std::string Nanos(absl::Duration d) { return StrCat(absl::ToInt64Nanoseconds(d)); }

// A time as Unix nanoseconds; the infinite past (unset) as "-".
std::string TimeField(absl::Time t) {
  return t == absl::InfinitePast() ? std::string("-") : StrCat(absl::ToUnixNanos(t));
}

std::optional<absl::Time> ParseTime(std::string_view v) {
  if (v == "-") return absl::InfinitePast();
  std::optional<int64_t> n = ParseInt<int64_t>(v);
  if (!n.has_value()) return std::nullopt;
  return absl::FromUnixNanos(*n);
}

const char* RestartName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kNo:
      return "no";
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kAlways:
      return "always";
  }
  return "no";
}

}  // namespace

std::string MainWireMessage::Get(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return "";
}

std::string EncodeMainWire(const MainWireMessage& m) {
  std::string out = m.verb;
  for (const auto& [k, v] : m.fields) {
    out.push_back('\0');
    out += k;
    out.push_back('\0');
    out += v;
  }
  return out;
}

absl::StatusOr<MainWireMessage> DecodeMainWire(std::string_view bytes) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t nul = bytes.find('\0', start);
    parts.emplace_back(bytes.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  if (parts.empty() || parts[0].empty()) {
    return absl::InvalidArgumentError("main host message: no verb");
  }
  if (parts.size() % 2 != 1) {
    return absl::InvalidArgumentError(
        StrCat("main host message ", parts[0], ": a key without a value"));
  }
  MainWireMessage m;
  m.verb = parts[0];
  for (std::size_t i = 1; i + 1 < parts.size(); i += 2) {
    m.fields.emplace_back(std::move(parts[i]), std::move(parts[i + 1]));
  }
  return m;
}

MainWireMessage EncodeStart(const MainStartRequest& r) {
  MainWireMessage m;
  m.verb = "start";
  m.fields = {{"jail", r.jail},
              {"jid", StrCat(r.jid)},
              {"user", r.user},
              {"restart", RestartName(r.spec.restart)},
              {"backoff_initial_ns", Nanos(r.spec.backoff_initial)},
              {"backoff_max_ns", Nanos(r.spec.backoff_max)},
              {"limit_count", StrCat(r.spec.limit_count)},
              {"limit_window_ns", Nanos(r.spec.limit_window)},
              {"clean_env", r.clean_env ? "1" : "0"}};
  for (const std::string& a : r.argv) m.fields.emplace_back("arg", a);
  for (const auto& [k, v] : r.env) m.fields.emplace_back("env", StrCat(k, "=", v));
  std::string fds;
  for (auto [has, name] : {std::pair{r.has_stdin, "in"}, std::pair{r.has_stdout, "out"},
                           std::pair{r.has_stderr, "err"}}) {
    if (has) fds += fds.empty() ? name : StrCat(",", name);
  }
  m.fields.emplace_back("fds", fds);
  return m;
}

absl::StatusOr<MainStartRequest> DecodeStart(const MainWireMessage& m) {
  MainStartRequest r;
  auto bad = [](std::string_view field) {
    return absl::InvalidArgumentError(StrCat("main host start: bad or missing ", field));
  };
  r.jail = m.Get("jail");
  if (r.jail.empty()) return bad("jail");
  const std::optional<int> jid = ParseInt<int>(m.Get("jid"));
  if (!jid.has_value() || *jid <= 0) return bad("jid");
  r.jid = *jid;
  r.user = m.Get("user");
  const std::string restart = m.Get("restart");
  if (restart == "no") {
    r.spec.restart = RestartPolicy::kNo;
  } else if (restart == "on-failure") {
    r.spec.restart = RestartPolicy::kOnFailure;
  } else if (restart == "always") {
    r.spec.restart = RestartPolicy::kAlways;
  } else {
    return bad("restart");
  }
  for (auto [key, out] : {std::pair{"backoff_initial_ns", &r.spec.backoff_initial},
                          std::pair{"backoff_max_ns", &r.spec.backoff_max},
                          std::pair{"limit_window_ns", &r.spec.limit_window}}) {
    const std::optional<int64_t> ns = ParseInt<int64_t>(m.Get(key));
    if (!ns.has_value() || *ns < 0) return bad(key);
    *out = absl::Nanoseconds(*ns);
  }
  const std::optional<int> count = ParseInt<int>(m.Get("limit_count"));
  if (!count.has_value() || *count < 0) return bad("limit_count");
  r.spec.limit_count = *count;
  r.clean_env = m.Get("clean_env") == "1";
  for (const auto& [k, v] : m.fields) {
    if (k == "arg") {
      r.argv.push_back(v);
    } else if (k == "env") {
      const std::size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return bad("env");
      r.env[v.substr(0, eq)] = v.substr(eq + 1);
    }
  }
  if (r.argv.empty()) return bad("arg");
  r.spec.argv = r.argv;
  const std::string fds = m.Get("fds");
  for (std::string_view f : Split(fds, ',')) {
    if (f == "in") {
      r.has_stdin = true;
    } else if (f == "out") {
      r.has_stdout = true;
    } else if (f == "err") {
      r.has_stderr = true;
    } else if (!f.empty()) {
      return bad("fds");
    }
  }
  return r;
}

MainWireMessage EncodeStatusAnswer(const MainProcessStatus& s) {
  MainWireMessage m;
  m.verb = "ok";
  m.fields = {{"configured", s.configured ? "1" : "0"},
              {"running", s.running ? "1" : "0"},
              {"pid", StrCat(s.pid)},
              {"starts", StrCat(s.starts)},
              {"restarts", StrCat(s.restarts)},
              {"gave_up", s.gave_up ? "1" : "0"},
              {"stopped", s.stopped ? "1" : "0"},
              {"exited", s.exited ? "1" : "0"},
              {"exit_code", StrCat(s.exit_code)},
              {"exit_signal", StrCat(s.exit_signal)},
              {"exit_time", TimeField(s.exit_time)},
              {"next_start", TimeField(s.next_start)}};
  return m;
}

MainWireMessage EncodeErrorAnswer(const absl::Status& s) {
  MainWireMessage m;
  m.verb = "error";
  m.fields = {{"code", StrCat(static_cast<int>(s.code()))},
              {"message", std::string(s.message())}};
  return m;
}

absl::StatusOr<MainProcessStatus> DecodeAnswer(const MainWireMessage& m) {
  if (m.verb == "error") {
    const std::optional<int> code = ParseInt<int>(m.Get("code"));
    const absl::StatusCode c = code.has_value() && *code > 0 && *code <= 16
                                   ? static_cast<absl::StatusCode>(*code)
                                   : absl::StatusCode::kInternal;
    return absl::Status(c, m.Get("message"));
  }
  if (m.verb != "ok") {
    return absl::InternalError(StrCat("main host answered ", m.verb));
  }
  MainProcessStatus s;
  auto flag = [&](std::string_view k) { return m.Get(k) == "1"; };
  auto num = [&](std::string_view k, int64_t& out) {
    std::optional<int64_t> v = ParseInt<int64_t>(m.Get(k));
    if (v.has_value()) out = *v;
    return v.has_value();
  };
  s.configured = flag("configured");
  s.running = flag("running");
  s.gave_up = flag("gave_up");
  s.stopped = flag("stopped");
  s.exited = flag("exited");
  int64_t code = -1, sig = 0;
  if (!num("pid", s.pid) || !num("starts", s.starts) || !num("restarts", s.restarts) ||
      !num("exit_code", code) || !num("exit_signal", sig)) {
    return absl::InternalError("main host answer: a malformed number");
  }
  s.exit_code = static_cast<int>(code);
  s.exit_signal = static_cast<int>(sig);
  std::optional<absl::Time> exit_time = ParseTime(m.Get("exit_time"));
  std::optional<absl::Time> next = ParseTime(m.Get("next_start"));
  if (!exit_time.has_value() || !next.has_value()) {
    return absl::InternalError("main host answer: a malformed time");
  }
  s.exit_time = *exit_time;
  s.next_start = *next;
  return s;
}

absl::StatusOr<MainProcessStatus> AskMainHost(const std::string& socket_path,
                                              const MainWireMessage& request,
                                              const std::vector<int>& fds,
                                              absl::Duration timeout) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(StrCat("main host socket path too long: ", socket_path));
  }
  memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const std::string bytes = EncodeMainWire(request);
  if (bytes.size() > kMainWireMax) {
    return absl::InvalidArgumentError("main host request too large");
  }
  const int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return ErrnoStatus(errno, "socket");
  if (connect(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(s);
    if (err == ENOENT || err == ECONNREFUSED) {
      return absl::UnavailableError(
          StrCat("no main process host at ", socket_path, " (", ErrnoName(err), ")"));
    }
    return ErrnoStatus(err, StrCat("connect ", socket_path));
  }
  struct iovec iov = {const_cast<char*>(bytes.data()), bytes.size()};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * 3), 0);
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0) {
    const int err = errno;
    close(s);
    return ErrnoStatus(err, StrCat("sendmsg to ", socket_path));
  }
  std::string answer(kMainWireMax, '\0');
  struct pollfd p = {s, POLLIN, 0};
  const int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  ssize_t n = -1;
  if (poll(&p, 1, ms < 0 ? 0 : ms) == 1) n = recv(s, answer.data(), answer.size(), 0);
  close(s);
  if (n <= 0) {
    return absl::UnavailableError(StrCat("the main process host at ", socket_path,
                                         " did not answer"));
  }
  answer.resize(static_cast<std::size_t>(n));
  absl::StatusOr<MainWireMessage> m = DecodeMainWire(answer);
  if (!m.ok()) return m.status();
  return DecodeAnswer(*m);
}

}  // namespace jailwarden::platform
