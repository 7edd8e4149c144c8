#include "platform/freebsd/pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace jailwarden::platform {

int OpenPty(uint16_t rows, uint16_t cols, int* master, int* slave) {
  *master = *slave = -1;
  const int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return -1;
  char name[128];
  if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) {
    const int e = errno;
    close(m);
    errno = e;
    return -1;
  }
  if (rows != 0 || cols != 0) {
    struct winsize ws = {};
    ws.ws_row = rows;
    ws.ws_col = cols;
    if (ioctl(m, TIOCSWINSZ, &ws) != 0) {
      const int e = errno;
      close(m);
      errno = e;
      return -1;
    }
  }
  const int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    const int e = errno;
    close(m);
    errno = e;
    return -1;
  }
  *master = m;
  *slave = s;
  return 0;
}

}  // namespace jailwarden::platform
