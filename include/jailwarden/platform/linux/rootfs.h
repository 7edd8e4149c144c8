#pragma once

// Root file systems for Linux jails: a ~2 MB busybox root built from
// Debian's busybox-static (for demos and tests, no network), and a Debian
// root made by debootstrap (for real use).

#include <string>

#include "absl/status/status.h"

namespace jailwarden::platform {

// Builds a busybox root in `dir` (created if missing; existing files are
// overwritten): bin/busybox copied from `busybox` (must be static), one
// symlink per applet in bin/ (as `busybox --install -s /bin`), sbin and
// usr/{bin,sbin} as links to bin, etc/{passwd,group,hostname,hosts},
// empty dev, proc, tmp (1777), root, var/tmp. Errors: NotFound (no
// busybox), I/O errors with the path.
absl::Status BuildBusyboxRoot(const std::string& dir,
                              const std::string& busybox = "/bin/busybox");

struct DebootstrapOptions {
  std::string suite = "bookworm";
  std::string variant = "minbase";
  std::string mirror = "http://deb.debian.org/debian";
  std::string debootstrap = "/usr/sbin/debootstrap";
  // A tarball made earlier with --make-tarball: unpack it offline instead.
  std::string tarball;
};

// Runs debootstrap into `dir` (needs network unless `tarball` is set; takes
// ~30 s). FailedPrecondition when debootstrap is not installed ("apt-get
// install debootstrap"), Internal with its exit status otherwise.
absl::Status BuildDebootstrapRoot(const std::string& dir,
                                  const DebootstrapOptions& options = {});

}  // namespace jailwarden::platform
