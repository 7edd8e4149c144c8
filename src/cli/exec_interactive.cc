// The client's side of an interactive exec session (exec_interactive.h).

#include "cli/exec_interactive.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <sysexits.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "jailwarden/api/exec_frames.h"

namespace jailwarden::cli {
namespace {

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Raw mode on a terminal for the session's lifetime; the saved mode is put
// back by the destructor, whatever way the session ends.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    struct termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSAFLUSH, &raw) == 0;
  }
  ~RawMode() {
    if (active_) (void)tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  struct termios saved_ {};
  bool active_ = false;
};

// SIGWINCH, SIGINT, SIGTERM and SIGHUP as bytes on a pipe while the
// session runs (the self-pipe trick: signalfd is Linux-only); the old
// handlers are put back by the destructor. One session at a time.
class SessionSignals {
 public:
  SessionSignals() {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return;
    read_fd_ = p[0];
    write_fd_.store(p[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = &SessionSignals::OnSignal;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      installed_[i] = sigaction(kSignals[i], &sa, &old_[i]) == 0;
    }
  }
  ~SessionSignals() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      if (installed_[i]) sigaction(kSignals[i], &old_[i], nullptr);
    }
    const int w = write_fd_.exchange(-1);
    if (w >= 0) close(w);
    if (read_fd_ >= 0) close(read_fd_);
  }
  SessionSignals(const SessionSignals&) = delete;
  SessionSignals& operator=(const SessionSignals&) = delete;
  int fd() const { return read_fd_; }
  // The next signal caught, 0 when none is pending.
  int Next() {
    unsigned char b = 0;
    return read_fd_ >= 0 && read(read_fd_, &b, 1) == 1 ? b : 0;
  }

 private:
  static void OnSignal(int sig) {
    const int saved = errno;
    const int w = write_fd_.load();
    if (w >= 0) {
      const unsigned char b = static_cast<unsigned char>(sig);
      (void)!write(w, &b, 1);
    }
    errno = saved;
  }
  static constexpr std::array<int, 4> kSignals = {SIGWINCH, SIGINT, SIGTERM, SIGHUP};
  static inline std::atomic<int> write_fd_{-1};
  int read_fd_ = -1;
  std::array<struct sigaction, 4> old_{};
  std::array<bool, 4> installed_{};
};

}  // namespace

std::optional<std::pair<uint16_t, uint16_t>> TerminalSize(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<uint16_t>(ws.ws_row), static_cast<uint16_t>(ws.ws_col));
}

std::vector<std::string> ConsoleArgv() {
  // Runs in the jail: its /bin/sh reads its /etc/passwd.
  return {"/bin/sh", "-c",
          "s=; d=; "
          "while IFS=: read -r u _ _ _ _ h sh; do "
          "if [ \"$u\" = root ]; then s=$sh; d=$h; break; fi; "
          "done < /etc/passwd 2>/dev/null; "
          "[ -n \"$s\" ] && [ -x \"$s\" ] || s=/bin/sh; "
          "[ -n \"$d\" ] || d=/root; "
          "cd \"$d\" 2>/dev/null || cd /; "
          "export HOME=\"$d\" SHELL=\"$s\" USER=root LOGNAME=root; "
          "exec \"$s\" -l",
          "jailwarden-console"};
}

int RunInteractiveSession(int conn, const InteractiveOptions& o) {
  std::string to_daemon, errors;
  api::FrameDecoder decoder;
  std::optional<int> status;
  int caught = 0;
  bool stdin_open = o.forward_stdin;
  bool protocol_error = false;
  {
    SessionSignals signals;
    const bool tty = o.tty && isatty(o.in_fd) == 1;
    std::optional<RawMode> raw;
    if (tty) raw.emplace(o.in_fd);
    bool conn_open = true;
    while (conn_open && !status.has_value() && caught == 0) {
      struct pollfd p[3];
      nfds_t n = 0;
      p[n++] = {conn, static_cast<short>(POLLIN | (to_daemon.empty() ? 0 : POLLOUT)), 0};
      p[n++] = {signals.fd(), POLLIN, 0};
      const bool read_in = stdin_open && to_daemon.size() < api::kMaxFramePayload * 4;
      if (read_in) p[n++] = {o.in_fd, POLLIN, 0};
      if (poll(p, n, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[1].revents & POLLIN) {
        for (int sig = signals.Next(); sig != 0; sig = signals.Next()) {
          if (sig == SIGWINCH) {
            if (std::optional<std::pair<uint16_t, uint16_t>> size = TerminalSize(o.in_fd)) {
              to_daemon += api::EncodeResize(size->first, size->second);
            }
          } else {
            caught = sig;
          }
        }
      }
      if (read_in && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[16384];
        const ssize_t got = read(o.in_fd, buf, sizeof(buf));
        if (got > 0) {
          api::AppendDataFrames(api::FrameType::kStdin,
                                std::string_view(buf, static_cast<size_t>(got)), &to_daemon);
        } else if (got == 0 || errno != EINTR) {
          stdin_open = false;
          to_daemon += api::EncodeFrame(api::FrameType::kStdinEof, "");
        }
      }
      if ((p[0].revents & POLLOUT) && !to_daemon.empty()) {
        const ssize_t s = send(conn, to_daemon.data(), to_daemon.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s > 0) {
          to_daemon.erase(0, static_cast<size_t>(s));
        } else if (s < 0 && errno != EAGAIN && errno != EINTR) {
          conn_open = false;
        }
      }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[16384];
        const ssize_t got = recv(conn, buf, sizeof(buf), MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          conn_open = false;
        } else if (got > 0) {
          decoder.Feed(std::string_view(buf, static_cast<size_t>(got)));
        }
        for (;;) {
          absl::StatusOr<std::optional<api::Frame>> f = decoder.Next();
          if (!f.ok()) {
            errors += std::string(f.status().message()) + "\n";
            protocol_error = true;
            conn_open = false;
            break;
          }
          if (!f->has_value()) break;
          const api::Frame& frame = **f;
          if (frame.type == api::FrameType::kStdout) {
            WriteAll(o.out_fd, frame.payload);
          } else if (frame.type == api::FrameType::kStderr) {
            WriteAll(o.err_fd, frame.payload);
          } else if (frame.type == api::FrameType::kError) {
            errors += frame.payload + "\n";
          } else if (frame.type == api::FrameType::kExit) {
            absl::StatusOr<api::ExitFrame> e = api::DecodeExit(frame.payload);
            if (!e.ok()) {
              errors += std::string(e.status().message()) + "\n";
              protocol_error = true;
            } else {
              status = e->how == api::ExitFrame::How::kTimedOut ? 124 : e->ShellStatus();
            }
            break;
          } else {
            errors += "exec stream: the daemon sent a " +
                      std::string(api::FrameTypeName(frame.type)) + " frame\n";
            protocol_error = true;
            conn_open = false;
            break;
          }
        }
      }
    }
  }  // the terminal and the signal mask are restored here
  close(conn);
  std::string_view rest = errors;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    WriteAll(o.err_fd, "jailwarden " + o.verb + ": " + std::string(rest.substr(0, nl)) + "\n");
    rest.remove_prefix(nl + 1);
  }
  if (caught != 0) return 128 + caught;
  if (status.has_value()) return *status;
  if (protocol_error || !errors.empty()) return 126;
  WriteAll(o.err_fd, "jailwarden " + o.verb + ": the daemon ended the session without an exit status\n");
  return EX_UNAVAILABLE;
}

}  // namespace jailwarden::cli
