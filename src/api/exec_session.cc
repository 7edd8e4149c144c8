// The daemon's side of an interactive exec session (exec_session.h).

#include "jailwarden/api/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "jailwarden/api/exec_frames.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

void SetNonBlocking(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) {
    (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  }
}

// What the exec thread hands to the session: the terminal's master when
// the command started, the result when it ended. Guarded by mu.
struct RunnerState {
  std::mutex mu;
  int master = -1;
  bool done = false;
  absl::StatusOr<platform::ExecResult> result = absl::UnknownError("not run");
};

// Wakes the session's poll: one byte on its wake pipe (a full pipe already
// holds a wake-up).
void Wake(int wake_w) {
  const char one = 1;
  (void)!write(wake_w, &one, 1);
}

int PollMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) {
    return -1;
  }
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now()) + 1;
  return ms < 0 ? 0 : static_cast<int>(ms);
}

class Session {
 public:
  Session(int conn, ExecSessionRequest req, const ExecSessionLimits& limits)
      : conn_(conn), req_(std::move(req)), limits_(limits) {}

  void Run(const ExecCall& exec);

 private:
  bool StartPipes(platform::ExecRequest& r);
  void HandleClientBytes();
  void HandleFrame(const Frame& f);
  void ProtocolError(const absl::Status& s);
  void ClientGone();
  void HangUp();
  void ReadOutput(int& fd, FrameType type);
  void WriteInput();
  void ApplySize();
  void Flush(absl::Time deadline);

  int conn_;
  ExecSessionRequest req_;
  ExecSessionLimits limits_;
  int in_w_ = -1, out_r_ = -1, err_r_ = -1, master_ = -1;
  bool master_open_ = false;  // output still expected from the terminal
  std::string to_client_, to_cmd_;
  FrameDecoder decoder_;
  bool client_gone_ = false, protocol_broken_ = false, stdin_eof_ = false, eof_sent_ = false;
  uint16_t rows_ = 0, cols_ = 0;
};

bool Session::StartPipes(platform::ExecRequest& r) {
  int in[2] = {-1, -1}, out[2], err[2];
  if ((req_.stdin && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0) {
    to_client_ += EncodeFrame(FrameType::kError, ErrnoStatus(errno, "pipe2").ToString());
    CloseFd(in[0]);
    CloseFd(in[1]);
    return false;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    to_client_ += EncodeFrame(FrameType::kError, ErrnoStatus(errno, "pipe2").ToString());
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) CloseFd(*fd);
    return false;
  }
  r.stdin_fd = in[0];
  r.stdout_fd = out[1];
  r.stderr_fd = err[1];
  in_w_ = in[1];
  out_r_ = out[0];
  err_r_ = err[0];
  for (int fd : {in_w_, out_r_, err_r_}) {
    if (fd >= 0) SetNonBlocking(fd);
  }
  return true;
}

// The client broke the protocol: it is told why and read no more; its
// command is hung up as if it had gone.
void Session::ProtocolError(const absl::Status& s) {
  to_client_ += EncodeFrame(FrameType::kError, ToStd(s.message()));
  protocol_broken_ = true;
  HangUp();
}

void Session::ClientGone() {
  client_gone_ = true;
  HangUp();
}

// The command gets EOF on stdin, or, on a terminal, a hangup (the master
// closed: SIGHUP to its session).
void Session::HangUp() {
  to_cmd_.clear();
  CloseFd(in_w_);
  if (master_ >= 0) {
    CloseFd(master_);
    master_open_ = false;
  }
}

void Session::ApplySize() {
  if (master_ >= 0 && rows_ > 0 && cols_ > 0) {
    struct winsize ws = {rows_, cols_, 0, 0};
    (void)ioctl(master_, TIOCSWINSZ, &ws);  // the kernel signals SIGWINCH
  }
}

void Session::HandleFrame(const Frame& f) {
  switch (f.type) {
    case FrameType::kStdin:
      if (req_.stdin && !stdin_eof_) to_cmd_ += f.payload;
      return;
    case FrameType::kStdinEof:
      stdin_eof_ = true;
      return;
    case FrameType::kResize: {
      absl::StatusOr<std::pair<uint16_t, uint16_t>> size = DecodeResize(f.payload);
      if (!size.ok()) return ProtocolError(size.status());
      rows_ = size->first;
      cols_ = size->second;
      return ApplySize();
    }
    case FrameType::kStdout:
    case FrameType::kStderr:
    case FrameType::kExit:
    case FrameType::kError:
      return ProtocolError(absl::InvalidArgumentError(
          StrCat("exec stream: a client may not send ", FrameTypeName(f.type), " frames")));
  }
}

void Session::HandleClientBytes() {
  char buf[16384];
  const ssize_t n = recv(conn_, buf, sizeof(buf), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return ClientGone();
  decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)));
  while (!client_gone_ && !protocol_broken_) {
    absl::StatusOr<std::optional<Frame>> f = decoder_.Next();
    if (!f.ok()) return ProtocolError(f.status());
    if (!f->has_value()) return;
    HandleFrame(**f);
  }
}

void Session::ReadOutput(int& fd, FrameType type) {
  char buf[16384];
  const ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // EOF of a pipe; EIO of a master once no one holds the slave.
    if (fd == master_) {
      master_open_ = false;
    } else {
      CloseFd(fd);
    }
    return;
  }
  if (!client_gone_) AppendDataFrames(type, std::string_view(buf, static_cast<size_t>(n)), &to_client_);
}

void Session::WriteInput() {
  const int fd = req_.tty ? master_ : in_w_;
  if (fd < 0) return;
  const ssize_t n = write(fd, to_cmd_.data(), to_cmd_.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {  // EPIPE: the command closed its stdin
    to_cmd_.clear();
    if (!req_.tty) CloseFd(in_w_);
    return;
  }
  to_cmd_.erase(0, static_cast<size_t>(n));
}

void Session::Flush(absl::Time deadline) {
  while (!to_client_.empty() && !client_gone_ && absl::Now() < deadline) {
    struct pollfd p = {conn_, POLLOUT, 0};
    if (poll(&p, 1, PollMs(deadline)) <= 0) continue;
    const ssize_t n = send(conn_, to_client_.data(), to_client_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return;
    to_client_.erase(0, static_cast<size_t>(n));
  }
}

void Session::Run(const ExecCall& exec) {
  SetNonBlocking(conn_);
  // The runner thread's wake-ups (a pipe: eventfd is Linux-only).
  int wake_pipe[2];
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    to_client_ = EncodeFrame(FrameType::kError, ErrnoStatus(errno, "pipe2").ToString());
    Flush(absl::Now() + limits_.flush);
    return;
  }
  const int wake_r = wake_pipe[0], wake = wake_pipe[1];
  platform::ExecRequest r = req_.exec;
  RunnerState state;
  rows_ = req_.rows;
  cols_ = req_.cols;
  if (req_.tty) {
    r.tty = true;
    r.tty_rows = req_.rows;
    r.tty_cols = req_.cols;
    if (!req_.term.empty()) r.env["TERM"] = req_.term;
    r.on_tty = [&state, wake](int master) {
      std::lock_guard<std::mutex> l(state.mu);
      state.master = master;
      Wake(wake);
    };
  } else if (!StartPipes(r)) {
    close(wake);
    close(wake_r);
    Flush(absl::Now() + limits_.flush);
    return;
  }
  std::thread runner([&state, &exec, &r, wake] {
    absl::StatusOr<platform::ExecResult> result = exec(r);
    for (int fd : {r.stdin_fd, r.stdout_fd, r.stderr_fd}) {
      if (fd >= 0) close(fd);
    }
    std::lock_guard<std::mutex> l(state.mu);
    state.result = std::move(result);
    state.done = true;
    Wake(wake);
  });
  bool done = false;
  absl::Time drain_deadline = absl::InfiniteFuture();
  for (;;) {
    if (done && drain_deadline == absl::InfiniteFuture()) {
      drain_deadline = absl::Now() + limits_.drain;
    }
    const bool output_open = master_open_ || out_r_ >= 0 || err_r_ >= 0;
    if (done && (!output_open || absl::Now() >= drain_deadline)) break;
    if (stdin_eof_ && to_cmd_.empty() && !eof_sent_) {
      eof_sent_ = true;
      if (req_.tty && master_ >= 0) {
        const char eof = 4;  // VEOF (^D) at the start of a line
        (void)!write(master_, &eof, 1);
      } else {
        CloseFd(in_w_);
      }
    }
    const bool room = to_client_.size() < limits_.max_pending_bytes || client_gone_;
    struct pollfd p[5];
    int n = 0;
    p[n++] = {wake_r, POLLIN, 0};
    const int conn_at = client_gone_ ? -1 : n;
    if (!client_gone_) {
      short ev = to_client_.empty() ? 0 : POLLOUT;
      if (to_cmd_.size() < limits_.max_pending_bytes && !protocol_broken_) ev |= POLLIN;
      p[n++] = {conn_, ev, 0};
    }
    const int input_fd = req_.tty ? master_ : in_w_;
    const int master_at = req_.tty && master_ >= 0 ? n : -1;
    if (master_at >= 0) {
      short ev = (room && master_open_ ? POLLIN : 0) | (to_cmd_.empty() ? 0 : POLLOUT);
      p[n++] = {master_, ev, 0};
    }
    const int out_at = out_r_ >= 0 && room ? n : -1;
    if (out_at >= 0) p[n++] = {out_r_, POLLIN, 0};
    const int err_at = err_r_ >= 0 && room ? n : -1;
    if (err_at >= 0) p[n++] = {err_r_, POLLIN, 0};
    const int in_at = !req_.tty && in_w_ >= 0 && !to_cmd_.empty() ? n : -1;
    if (in_at >= 0) p[n++] = {in_w_, POLLOUT, 0};
    (void)input_fd;
    const int rc = poll(p, static_cast<nfds_t>(n), done ? PollMs(drain_deadline) : -1);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    if (p[0].revents & POLLIN) {
      char drained[64];
      while (read(wake_r, drained, sizeof(drained)) > 0) {
      }
      std::lock_guard<std::mutex> l(state.mu);
      if (state.master >= 0) {
        master_ = state.master;
        state.master = -1;
        master_open_ = true;
        SetNonBlocking(master_);
        ApplySize();
        if (client_gone_ || protocol_broken_) HangUp();
      }
      done = state.done;
    }
    if (conn_at >= 0 && !client_gone_) {
      if (p[conn_at].revents & POLLOUT) {
        const ssize_t s =
            send(conn_, to_client_.data(), to_client_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s > 0) {
          to_client_.erase(0, static_cast<size_t>(s));
        } else if (s < 0 && errno != EAGAIN && errno != EINTR) {
          ClientGone();
        }
      }
      if (!client_gone_ && !protocol_broken_ &&
          (p[conn_at].revents & (POLLIN | POLLHUP | POLLERR))) {
        HandleClientBytes();
      } else if (protocol_broken_ && (p[conn_at].revents & (POLLHUP | POLLERR))) {
        ClientGone();
      }
    }
    if (master_at >= 0 && master_ >= 0) {
      if (p[master_at].revents & POLLOUT) WriteInput();
      if (p[master_at].revents & (POLLIN | POLLHUP | POLLERR)) ReadOutput(master_, FrameType::kStdout);
    }
    if (out_at >= 0 && (p[out_at].revents & (POLLIN | POLLHUP | POLLERR))) {
      ReadOutput(out_r_, FrameType::kStdout);
    }
    if (err_at >= 0 && (p[err_at].revents & (POLLIN | POLLHUP | POLLERR))) {
      ReadOutput(err_r_, FrameType::kStderr);
    }
    if (in_at >= 0 && (p[in_at].revents & (POLLOUT | POLLERR | POLLHUP))) WriteInput();
  }
  runner.join();
  {
    std::lock_guard<std::mutex> l(state.mu);
    if (state.master >= 0) {  // arrived after the loop ended
      master_ = state.master;
    }
    if (!state.result.ok()) {
      to_client_ += EncodeFrame(FrameType::kError, ToStd(state.result.status().message()));
    } else {
      const platform::ExecResult& res = *state.result;
      if (res.exec_errno != 0) {
        to_client_ += EncodeFrame(FrameType::kError, ExecErrorText(req_.exec.argv, res.exec_errno));
      }
      ExitFrame e;
      if (res.timed_out) {
        e.how = ExitFrame::How::kTimedOut;
        e.value = res.term_signal;
      } else if (res.term_signal != 0) {
        e.how = ExitFrame::How::kSignaled;
        e.value = res.term_signal;
      } else {
        e.value = res.exit_code;
      }
      to_client_ += EncodeExit(e);
    }
  }
  Flush(absl::Now() + limits_.flush);
  for (int* fd : {&in_w_, &out_r_, &err_r_, &master_}) CloseFd(*fd);
  close(wake);
  close(wake_r);
}

}  // namespace

std::string ExecErrorText(const std::vector<std::string>& argv, int err) {
  char buf[128];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  const char* text = strerror_r(err, buf, sizeof(buf));  // GNU: returns the text
#else
  const char* text = strerror_r(err, buf, sizeof(buf)) == 0 ? buf : "Unknown error";  // XSI
#endif
  return StrCat(argv.empty() ? std::string("exec") : argv[0], ": ", text);
}

void ServeExecSession(int conn, ExecSessionRequest request, const ExecCall& exec,
                      const ExecSessionLimits& limits) {
  Session s(conn, std::move(request), limits);
  s.Run(exec);
  close(conn);
}

}  // namespace jailwarden::api
