#pragma once

// Pieces of the libmicrohttpd server (include/jailwarden/api/mhd_server.h)
// that do not touch libmicrohttpd: binding its listening sockets and
// relaying an upgraded connection. Thread-safe (no shared state).

#include <sys/types.h>

#include <atomic>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "jailwarden/base/files.h"

namespace jailwarden::api::mhd_internal {

struct BoundSocket {
  base::UniqueFd fd;  // listening, CLOEXEC
  int port = 0;       // TCP: the port bound; unix: 0
  bool is_unix = false;
  std::string path;       // unix: as configured
  base::UniqueFd dir_fd;  // unix: its directory, opened without symlinks
  std::string name;       // unix: the last path component
  dev_t dev = 0;          // unix: the socket inode created, to remove only it
  ino_t ino = 0;
};

// "IPv4:PORT" -> a listening TCP socket (SO_REUSEADDR). InvalidArgument
// for a bad address, Unavailable with the errno name when bind fails.
absl::StatusOr<BoundSocket> BindTcp(std::string_view address);

// An absolute unix socket path -> a listening socket, mode 0600, in a
// directory made 0700 if missing (see mhd_server.h for what is refused).
absl::StatusOr<BoundSocket> BindUnix(std::string_view path);

// Removes the unix socket if the inode at its path is still the one
// BindUnix created. No-op for TCP.
void RemoveUnix(const BoundSocket& socket);

// The uid of a unix-socket peer (SO_PEERCRED / getpeereid), or -1.
long PeerUid(int fd);

// Copies bytes both ways between `app` (the handler's end of a
// socketpair) and `conn` (the upgraded connection, or libmicrohttpd's TLS
// proxy end) until both directions saw end-of-file, either side fails, or
// `stopping` turns true. `extra_in` (bytes the server read past the request
// head) goes to `app` first. A half-close is passed on with shutdown(2).
// Closes neither fd.
void RelayUpgraded(int app, int conn, std::string extra_in,
                   const std::atomic<bool>& stopping);

}  // namespace jailwarden::api::mhd_internal
