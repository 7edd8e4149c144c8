// Binding the libmicrohttpd server's listening sockets, and the relay of
// upgraded connections. See mhd_internal.h.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/mhd_internal.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api::mhd_internal {
namespace {

// "/proc/self/fd/N/NAME" on Linux reaches NAME inside the directory fd N
// refers to, without resolving the configured path again (no symlink on
// the way can be swapped in). FreeBSD has no such links: the path itself,
// whose directories were checked just before.
absl::StatusOr<sockaddr_un> AddressIn(const BoundSocket& s) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
#ifdef __linux__
  const std::string p = StrCat("/proc/self/fd/", s.dir_fd.get(), "/", s.name);
#else
  const std::string p = s.path;
#endif
  if (p.size() >= sizeof(a.sun_path)) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("unix socket path '", s.path, "' is too long")));
  }
  std::memcpy(a.sun_path, p.data(), p.size());
  return a;
}

// Opens `dir` component by component with O_NOFOLLOW, creating the last
// one 0700 if it is missing.
absl::StatusOr<base::UniqueFd> OpenDirNoFollow(const std::string& dir) {
  base::UniqueFd fd(open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open /");
  std::vector<std::string_view> parts;
  for (std::string_view p : Split(dir, '/')) {
    if (!p.empty()) parts.push_back(p);
  }
  std::string walked;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string part(parts[i]);
    walked += "/" + part;
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("unix socket directory ", dir, ": '", part, "' is not allowed")));
    }
    int next = openat(fd.get(), part.c_str(), O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && i + 1 == parts.size()) {
      if (mkdirat(fd.get(), part.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, StrCat("mkdir ", walked));
      }
      next = openat(fd.get(), part.c_str(), O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      const int e = errno;
      if (e == ELOOP || e == ENOTDIR) {
        return absl::FailedPreconditionError(ToAbsl(StrCat(
            "unix socket directory: ", walked, " is a symlink or not a directory (",
            ErrnoName(e), "); give the real path")));
      }
      return ErrnoStatus(e, StrCat("open ", walked));
    }
    fd.reset(next);
  }
  return fd;
}

}  // namespace

absl::StatusOr<BoundSocket> BindTcp(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  std::optional<int> port;
  if (colon != std::string_view::npos) port = ParseInt<int>(address.substr(colon + 1));
  if (!port.has_value() || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("listen address '", address, "' is not IPv4:PORT")));
  }
  const std::string host(address.substr(0, colon));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(*port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("listen address '", address, "': '", host, "' is not an IPv4 address")));
  }
  BoundSocket s;
  s.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.fd.valid()) return ErrnoStatus(errno, "socket");
  const int one = 1;
  setsockopt(s.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(s.fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      listen(s.fd.get(), 128) != 0) {
    const int e = errno;
    return absl::UnavailableError(
        ToAbsl(StrCat("cannot listen on ", address, ": ", ErrnoName(e), " (",
                      std::strerror(e), ")")));
  }
  socklen_t len = sizeof(sa);
  getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  s.port = ntohs(sa.sin_port);
  return s;
}

absl::StatusOr<BoundSocket> BindUnix(std::string_view path) {
  if (path.empty() || path[0] != '/' || path.back() == '/') {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("unix socket path '", path, "' must be absolute")));
  }
  BoundSocket s;
  s.is_unix = true;
  s.path = std::string(path);
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == 0 ? "/" : std::string(path.substr(0, slash));
  s.name = std::string(path.substr(slash + 1));
  if (s.name == "." || s.name == "..") {
    return absl::InvalidArgumentError(ToAbsl(StrCat("bad unix socket path '", path, "'")));
  }
  auto dir_fd = OpenDirNoFollow(dir);
  if (!dir_fd.ok()) return dir_fd.status();
  s.dir_fd = std::move(*dir_fd);
  struct stat st {};
  if (fstat(s.dir_fd.get(), &st) != 0) return ErrnoStatus(errno, StrCat("stat ", dir));
  if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        "unix socket directory ", dir, " is owned by uid ", st.st_uid, " with mode 0",
        (st.st_mode >> 6) & 7, (st.st_mode >> 3) & 7, st.st_mode & 7,
        ": it must belong to root and be writable by nobody else")));
  }
  JW_ASSIGN_OR_RETURN(sockaddr_un addr, AddressIn(s));
  // What is there already.
  if (fstatat(s.dir_fd.get(), s.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(ToAbsl(StrCat(
          path, " exists and is not a socket: refusing to replace it")));
    }
    base::UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) return ErrnoStatus(errno, "socket");
    if (connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return absl::AlreadyExistsError(ToAbsl(StrCat(
          "a daemon is already serving ", path, " (jailwarden already running?)")));
    }
    if (errno != ECONNREFUSED) return ErrnoStatus(errno, StrCat("connect ", path));
    if (unlinkat(s.dir_fd.get(), s.name.c_str(), 0) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, StrCat("unlink stale socket ", path));
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("stat ", path));
  }
  s.fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.fd.valid()) return ErrnoStatus(errno, "socket");
  const mode_t old_mask = umask(0177);
  const int rc = bind(s.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_mask);
  if (rc != 0) {
    return absl::UnavailableError(ToAbsl(StrCat("cannot bind ", path, ": ",
                                                ErrnoName(bind_errno))));
  }
  if (fchmodat(s.dir_fd.get(), s.name.c_str(), 0600, 0) != 0 ||
      fstatat(s.dir_fd.get(), s.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int e = errno;
    unlinkat(s.dir_fd.get(), s.name.c_str(), 0);
    return ErrnoStatus(e, StrCat("chmod ", path));
  }
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  if (listen(s.fd.get(), 128) != 0) {
    const int e = errno;
    RemoveUnix(s);
    return ErrnoStatus(e, StrCat("listen ", path));
  }
  return s;
}

void RemoveUnix(const BoundSocket& s) {
  if (!s.is_unix || !s.dir_fd.valid()) return;
  struct stat st {};
  if (fstatat(s.dir_fd.get(), s.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_dev == s.dev && st.st_ino == s.ino) {
    unlinkat(s.dir_fd.get(), s.name.c_str(), 0);
  }
}

long PeerUid(int fd) {
#ifdef __linux__
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
  return static_cast<long>(cred.uid);
#else
  uid_t uid = 0;
  gid_t gid = 0;
  if (getpeereid(fd, &uid, &gid) != 0) return -1;
  return static_cast<long>(uid);
#endif
}

void RelayUpgraded(int app, int conn, std::string extra_in,
                   const std::atomic<bool>& stopping) {
  // to_app: bytes from conn (and extra_in) not yet written to app; to_conn
  // the other way. A direction is done once its source hit EOF and its
  // buffer is flushed; then the sink gets shutdown(SHUT_WR).
  std::string to_app = std::move(extra_in), to_conn;
  bool conn_eof = false, app_eof = false, app_shut = false, conn_shut = false;
  fcntl(app, F_SETFL, fcntl(app, F_GETFL) | O_NONBLOCK);
  fcntl(conn, F_SETFL, fcntl(conn, F_GETFL) | O_NONBLOCK);
  char buf[16384];
  while (!stopping.load()) {
    if (conn_eof && to_app.empty() && !app_shut) {
      shutdown(app, SHUT_WR);
      app_shut = true;
    }
    if (app_eof && to_conn.empty() && !conn_shut) {
      shutdown(conn, SHUT_WR);
      conn_shut = true;
    }
    if (app_shut && conn_shut) return;
    pollfd p[2] = {{app, 0, 0}, {conn, 0, 0}};
    if (!app_eof && to_conn.size() < sizeof(buf)) p[0].events |= POLLIN;
    if (!to_app.empty()) p[0].events |= POLLOUT;
    if (!conn_eof && to_app.size() < sizeof(buf)) p[1].events |= POLLIN;
    if (!to_conn.empty()) p[1].events |= POLLOUT;
    const int n = poll(p, 2, 200);
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) continue;
    // A side that hung up after its EOF was seen can take nothing more.
    if ((p[0].revents & (POLLHUP | POLLERR)) && app_eof && !(p[0].revents & POLLIN)) return;
    if ((p[1].revents & (POLLHUP | POLLERR)) && conn_eof && !(p[1].revents & POLLIN)) return;
    auto pump_in = [&](int fd, std::string& into, bool& eof) -> bool {
      const ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r > 0) into.append(buf, static_cast<std::size_t>(r));
      if (r == 0) eof = true;
      return r >= 0 || errno == EAGAIN || errno == EINTR;
    };
    auto pump_out = [&](int fd, std::string& from) -> bool {
      const ssize_t w = send(fd, from.data(), from.size(), MSG_NOSIGNAL);
      if (w > 0) from.erase(0, static_cast<std::size_t>(w));
      return w >= 0 || errno == EAGAIN || errno == EINTR;
    };
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && (p[0].events & POLLIN) &&
        !pump_in(app, to_conn, app_eof)) {
      return;
    }
    if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && (p[1].events & POLLIN) &&
        !pump_in(conn, to_app, conn_eof)) {
      return;
    }
    if ((p[0].revents & (POLLOUT | POLLERR)) && !to_app.empty() && !pump_out(app, to_app)) {
      return;
    }
    if ((p[1].revents & (POLLOUT | POLLERR)) && !to_conn.empty() && !pump_out(conn, to_conn)) {
      return;
    }
  }
}

}  // namespace jailwarden::api::mhd_internal
