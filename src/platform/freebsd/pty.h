#pragma once

// A pseudo-terminal for `jailwarden exec -t` and `console` on FreeBSD
// (issue 17), as the seam's RunCommand gives one to a command in a jail:
// posix_openpt(3) (O_RDWR | O_NOCTTY), grantpt, unlockpt, and the slave
// opened on the host by its ptsname — FreeBSD's pts(4) devices are the
// host's, so the command gets its terminal whatever the jail's devfs
// ruleset hides — sized rows x cols with TIOCSWINSZ (0 x 0 keeps the
// kernel's default). Both fds are close-on-exec; the caller owns them.
// Portable POSIX: the same code runs on Linux (the fake kernel's tests).
//
// Thread-safe (ptsname_r). Returns 0, or -1 with the failing call's errno.

#include <cstdint>

namespace jailwarden::platform {

int OpenPty(uint16_t rows, uint16_t cols, int* master, int* slave);

}  // namespace jailwarden::platform
