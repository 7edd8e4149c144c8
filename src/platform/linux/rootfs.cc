#include "jailwarden/platform/linux/rootfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/exec.h"
#include "platform/linux/jail_host_files.h"

namespace jailwarden::platform {
namespace {

absl::Status WriteText(int root_fd, const std::string& path, std::string_view text,
                       mode_t mode) {
  return WriteFileBeneath(root_fd, "write", path, mode, [&](int fd) -> absl::Status {
    if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      return ErrnoStatus(errno, StrCat("write ", path));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> RunCapture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  ExecRequest req;
  req.argv = argv;
  req.stdout_fd = fds[1];
  req.timeout = absl::Seconds(30);
  // The applet list is ~3 KB, well below the pipe buffer, so reading after
  // the wait cannot deadlock.
  absl::StatusOr<ExecResult> r = ExecAndWait(ExecTarget{}, req);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  JW_RETURN_IF_ERROR(r.status());
  if (!r->ok()) {
    return absl::InternalError(StrCat(argv[0], ": exit ", r->exit_code));
  }
  return out;
}

absl::Status FillBusyboxRoot(int root_fd, const std::string& busybox) {
  for (const char* d : {"bin", "etc", "dev", "proc", "sys", "root", "var", "usr", "home"}) {
    JW_RETURN_IF_ERROR(MkdirBeneath(root_fd, d, 0755));
  }
  JW_RETURN_IF_ERROR(MkdirBeneath(root_fd, "tmp", 01777));
  JW_RETURN_IF_ERROR(MkdirBeneath(root_fd, "var/tmp", 01777));
  JW_RETURN_IF_ERROR(SymlinkBeneath(root_fd, "bin", "sbin"));
  JW_RETURN_IF_ERROR(SymlinkBeneath(root_fd, "../bin", "usr/bin"));
  JW_RETURN_IF_ERROR(SymlinkBeneath(root_fd, "../bin", "usr/sbin"));
  // Copy (not link) so the root does not depend on the host's file.
  int in = open(busybox.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return ErrnoStatus(errno, StrCat("open ", busybox));
  }
  absl::Status st = WriteFileBeneath(root_fd, "write", "bin/busybox", 0755, [&](int out) {
    return CopyData(in, out, busybox, "bin/busybox");
  });
  close(in);
  JW_RETURN_IF_ERROR(st);
  JW_ASSIGN_OR_RETURN(std::string applets, RunCapture({busybox, "--list"}));
  for (std::string_view a : Split(applets, '\n')) {
    a = StripWhitespace(a);
    if (a.empty() || a == "busybox" || a.find('/') != std::string_view::npos) {
      continue;
    }
    JW_RETURN_IF_ERROR(SymlinkBeneath(root_fd, "busybox", StrCat("bin/", a)));
  }
  JW_RETURN_IF_ERROR(WriteText(root_fd, "etc/passwd",
                               "root:x:0:0:root:/root:/bin/sh\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                               0644));
  JW_RETURN_IF_ERROR(WriteText(root_fd, "etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644));
  JW_RETURN_IF_ERROR(WriteText(root_fd, "etc/hosts", "127.0.0.1 localhost\n", 0644));
  JW_RETURN_IF_ERROR(WriteText(root_fd, "etc/hostname", "jail\n", 0644));
  return absl::OkStatus();
}

}  // namespace

absl::Status BuildBusyboxRoot(const std::string& dir, const std::string& busybox) {
  if (access(busybox.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        StrCat(busybox, " not found (apt-get install busybox-static)"));
  }
  JW_RETURN_IF_ERROR(MakeDirs(dir, 0755));
  // `dir` may be the root of a jail that ran: everything below it is
  // resolved beneath it (safe_path.h), so a link the jail planted (etc ->
  // /etc) fails the build instead of leading the writes onto the host.
  int root_fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", dir));
  }
  absl::Status st = FillBusyboxRoot(root_fd, busybox);
  close(root_fd);
  if (!st.ok()) {
    std::string msg = StrCat(dir, ": ", ToStd(st.message()));
    std::optional<int> err = StatusErrno(st);
    return err ? ErrnoStatusWithMessage(*err, msg) : absl::Status(st.code(), msg);
  }
  return st;
}

absl::Status BuildDebootstrapRoot(const std::string& dir, const DebootstrapOptions& o) {
  if (access(o.debootstrap.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        StrCat(o.debootstrap, " not installed (apt-get install debootstrap)"));
  }
  std::vector<std::string> argv = {o.debootstrap, StrCat("--variant=", o.variant)};
  if (!o.tarball.empty()) {
    argv.push_back(StrCat("--unpack-tarball=", o.tarball));
  }
  argv.push_back(o.suite);
  argv.push_back(dir);
  if (o.tarball.empty()) {
    argv.push_back(o.mirror);
  }
  return RunHostTool(argv);
}

}  // namespace jailwarden::platform
