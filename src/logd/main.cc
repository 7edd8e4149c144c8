// jailwarden-logd: one jail's log writer (issue 17, jailwarden/jail/logs.h).
//
//   jailwarden-logd --dir=DIR --max-size=BYTES --max-files=N [--consolelog=PATH]
//
// Started by the daemon (jail::JailLogSink) in its own session, on the
// host, outside the jail's namespaces: the jail's root can neither signal
// nor ptrace it, and it holds the only handle on DIR. It binds
// DIR/writer.sock (0600), prints "ready\n" on stdout and closes it, then
// takes requests, one SOCK_SEQPACKET message each:
//   "attach STREAM SOURCE" + one fd (SCM_RIGHTS, a pipe's read end): every
//     line read from it becomes a record; answered "ok".
//   "quit": the writer ends once every attached pipe is at EOF (at most
//     5 s later); answered "ok".
// It outlives the daemon (a restart or kill -9 loses nothing): the main
// process's pipes stay with it and the jail's init.
//
// Flood bound: at most max(1 MiB, max_size / 8) bytes per second are
// written; lines beyond are dropped and counted, and a "meta" record
// "N lines dropped" follows once there is room. A writer that cannot keep
// up never blocks the jail's pid 1 (init writes nothing; only the noisy
// process itself waits on a full pipe while the writer drains it).
// exec.consolelog: hook lines are also appended, raw, to PATH (opened
// O_APPEND|O_CREAT|O_NOFOLLOW, 0600) as jail(8) does.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/jail/logs.h"

namespace {

using jailwarden::jail::kMaxLogLine;
using jailwarden::jail::LogFileWriter;
using jailwarden::jail::LogRecord;

struct Input {
  int fd;
  std::string stream, source;
  std::string partial;
};

class Writer {
 public:
  Writer(LogFileWriter file, int64_t rate, int console_fd)
      : file_(std::move(file)), rate_(rate), tokens_(rate), console_fd_(console_fd) {}

  void Line(const Input& in, std::string_view text) {
    Refill();
    const int64_t cost = static_cast<int64_t>(text.size()) + 64;
    if (tokens_ < cost) {
      ++dropped_[in.source];
      return;
    }
    tokens_ -= cost;
    NoteDropped();
    Write({absl::Now(), in.stream, in.source, std::string(text)});
    if (console_fd_ >= 0 && in.source.rfind("exec.", 0) == 0) {
      std::string raw = std::string(text) + "\n";
      (void)!write(console_fd_, raw.data(), raw.size());
    }
  }

  // Milliseconds until NoteDropped has a marker to write (-1: nothing was
  // dropped), so the loop sleeps without a timer while the jail is quiet.
  int NoteDueMs() const {
    if (dropped_.empty()) return -1;
    const int64_t ms =
        absl::ToInt64Milliseconds(last_note_ + absl::Seconds(1) - absl::Now()) + 1;
    return static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
  }

  // At most once a second (and always when `force`), so a flood costs a
  // marker a second, not one per read.
  void NoteDropped(bool force = false) {
    const absl::Time now = absl::Now();
    if (dropped_.empty() || (!force && now - last_note_ < absl::Seconds(1))) return;
    last_note_ = now;
    for (auto it = dropped_.begin(); it != dropped_.end();) {
      Write({absl::Now(), "meta", it->first, std::to_string(it->second) + " lines dropped"});
      it = dropped_.erase(it);
    }
  }

 private:
  void Refill() {
    const absl::Time now = absl::Now();
    tokens_ = std::min<int64_t>(
        rate_, tokens_ + static_cast<int64_t>(absl::ToDoubleSeconds(now - last_) * rate_));
    last_ = now;
  }
  void Write(const LogRecord& r) {
    if (absl::Status s = file_.Append(r); !s.ok()) {
      fprintf(stderr, "jailwarden-logd: %s\n", std::string(s.message()).c_str());
    }
  }

  LogFileWriter file_;
  int64_t rate_;
  int64_t tokens_;
  absl::Time last_ = absl::Now();
  absl::Time last_note_ = absl::InfinitePast();
  int console_fd_;
  std::map<std::string, int64_t> dropped_;
};

// Feeds what `in` has to the writer; false at EOF or error.
bool Drain(Input& in, Writer& w) {
  char buf[65536];
  ssize_t n = read(in.fd, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    if (!in.partial.empty()) w.Line(in, in.partial);
    return false;
  }
  in.partial.append(buf, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = in.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    w.Line(in, std::string_view(in.partial).substr(start, nl - start));
  }
  in.partial.erase(0, start);
  while (in.partial.size() >= kMaxLogLine) {
    w.Line(in, std::string_view(in.partial).substr(0, kMaxLogLine));
    in.partial.erase(0, kMaxLogLine);
  }
  return true;
}

std::string Flag(int argc, char** argv, const char* name) {
  const size_t len = strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') return argv[i] + len + 1;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = Flag(argc, argv, "--dir");
  jailwarden::platform::LogSpec spec;
  spec.max_size = strtoll(Flag(argc, argv, "--max-size").c_str(), nullptr, 10);
  spec.max_files = atoi(Flag(argc, argv, "--max-files").c_str());
  const std::string console = Flag(argc, argv, "--consolelog");
  if (dir.empty() || spec.max_size <= 0 || spec.max_files < 1) {
    fprintf(stderr, "jailwarden-logd: internal program, run by jailwarden\n");
    return 2;
  }
  // Its own session, out of the daemon's (posix_spawn's POSIX_SPAWN_SETSID
  // did it already where the libc has the flag; EPERM then).
  (void)setsid();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  absl::StatusOr<LogFileWriter> file = LogFileWriter::Open(dir, spec);
  if (!file.ok()) {
    fprintf(stderr, "jailwarden-logd: %s\n", std::string(file.status().message()).c_str());
    return 1;
  }
  int console_fd = -1;
  if (!console.empty()) {
    console_fd = open(console.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    if (console_fd < 0) {
      fprintf(stderr, "jailwarden-logd: exec.consolelog %s: %s\n", console.c_str(),
              std::string(jailwarden::ErrnoName(errno)).c_str());
      return 1;
    }
  }
  const std::string sock_path = dir + "/writer.sock";
  int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (lfd < 0 || sock_path.size() >= sizeof(addr.sun_path)) {
    fprintf(stderr, "jailwarden-logd: cannot make %s\n", sock_path.c_str());
    return 1;
  }
  memcpy(addr.sun_path, sock_path.c_str(), sock_path.size());
  unlink(sock_path.c_str());
  mode_t old = umask(0077);
  if (bind(lfd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(lfd, 16) != 0) {
    fprintf(stderr, "jailwarden-logd: bind %s: %s\n", sock_path.c_str(), std::string(jailwarden::ErrnoName(errno)).c_str());
    return 1;
  }
  umask(old);
  (void)!write(1, "ready\n", 6);
  close(1);

  Writer writer(*std::move(file), std::max<int64_t>(int64_t{1} << 20, spec.max_size / 8),
                console_fd);
  std::vector<Input> inputs;
  bool quitting = false;
  absl::Time quit_deadline = absl::InfiniteFuture();
  while (!(quitting && (inputs.empty() || absl::Now() >= quit_deadline))) {
    std::vector<struct pollfd> pfds;
    pfds.push_back({lfd, POLLIN, 0});
    for (const Input& in : inputs) pfds.push_back({in.fd, POLLIN, 0});
    // No timer while idle (issue 16: one writer per jail used to wake every
    // second); only a pending dropped-lines marker or the quit deadline.
    int timeout = writer.NoteDueMs();
    if (quitting) {
      const int64_t left = absl::ToInt64Milliseconds(quit_deadline - absl::Now()) + 1;
      const int q = static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
      timeout = timeout < 0 ? q : std::min(timeout, q);
    }
    poll(pfds.data(), pfds.size(), timeout);
    for (size_t i = inputs.size(); i-- > 0;) {
      if (pfds[i + 1].revents == 0) continue;
      if (!Drain(inputs[i], writer)) {
        close(inputs[i].fd);
        inputs.erase(inputs.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    writer.NoteDropped();
    if ((pfds[0].revents & POLLIN) == 0) continue;
    int conn = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    char buf[512];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct timeval tv = {2, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    int fd = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
      }
    }
    std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    char stream[32] = "", source[64] = "";
    const char* answer = "error";
    if (text == "quit") {
      quitting = true;
      quit_deadline = absl::Now() + absl::Seconds(5);
      answer = "ok";
    } else if (fd >= 0 && sscanf(text.c_str(), "attach %31s %63s", stream, source) == 2 &&
               (strcmp(stream, "stdout") == 0 || strcmp(stream, "stderr") == 0) &&
               inputs.size() < 256) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      inputs.push_back({fd, stream, source, ""});
      fd = -1;
      answer = "ok";
    }
    if (fd >= 0) close(fd);
    (void)!send(conn, answer, strlen(answer), MSG_NOSIGNAL);
    close(conn);
  }
  for (Input& in : inputs) {  // past the quit deadline: what is buffered
    if (!in.partial.empty()) writer.Line(in, in.partial);
    close(in.fd);
  }
  writer.NoteDropped(/*force=*/true);
  unlink(sock_path.c_str());
  return 0;
}
