#pragma once

// The console socket handshake of an OCI runtime (runc's --console-socket):
// the pty master sent as one message, the fd in SCM_RIGHTS and a short
// name as its payload. Header-only: jailwarden-init (oci create) and the
// oci layer's exec both send it.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstring>

namespace jailwarden::platform {

// Sends `fd` over `sock`. Returns sendmsg's result (-1 with errno set).
inline ssize_t SendConsoleMaster(int sock, int fd) {
  char name[] = "/dev/ptmx";
  struct iovec iov = {name, sizeof(name) - 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  std::memset(&control, 0, sizeof(control));
  struct msghdr msg;
  std::memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

}  // namespace jailwarden::platform
