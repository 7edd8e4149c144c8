#include "jailwarden/platform/linux/rootfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/exec.h"

namespace jailwarden::platform {
namespace {

absl::Status Mkdir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, StrCat("mkdir ", path));
  }
  chmod(path.c_str(), mode);
  return absl::OkStatus();
}

absl::Status Symlink(const std::string& target, const std::string& link) {
  unlink(link.c_str());
  if (symlink(target.c_str(), link.c_str()) != 0) {
    return ErrnoStatus(errno, StrCat("symlink ", link));
  }
  return absl::OkStatus();
}

absl::Status WriteText(const std::string& path, std::string_view text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("create ", path));
  }
  ssize_t n = write(fd, text.data(), text.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(err, StrCat("write ", path));
  }
  return absl::OkStatus();
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

}  // namespace

absl::Status BuildBusyboxRoot(const std::string& dir, const std::string& busybox) {
  if (access(busybox.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        StrCat(busybox, " not found (apt-get install busybox-static)"));
  }
  JW_RETURN_IF_ERROR(Mkdir(dir, 0755));
  for (const char* d : {"bin", "etc", "dev", "proc", "sys", "root", "var", "usr", "home"}) {
    JW_RETURN_IF_ERROR(Mkdir(StrCat(dir, "/", d), 0755));
  }
  JW_RETURN_IF_ERROR(Mkdir(dir + "/tmp", 01777));
  JW_RETURN_IF_ERROR(Mkdir(dir + "/var/tmp", 01777));
  JW_RETURN_IF_ERROR(Symlink("bin", dir + "/sbin"));
  JW_RETURN_IF_ERROR(Symlink("../bin", dir + "/usr/bin"));
  JW_RETURN_IF_ERROR(Symlink("../bin", dir + "/usr/sbin"));
  // Copy (not link) so the root does not depend on the host's file.
  {
    int in = open(busybox.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      return ErrnoStatus(errno, StrCat("open ", busybox));
    }
    std::string dst = dir + "/bin/busybox";
    unlink(dst.c_str());
    int out = open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
      int err = errno;
      close(in);
      return ErrnoStatus(err, StrCat("create ", dst));
    }
    char buf[65536];
    ssize_t n;
    absl::Status st;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
      if (write(out, buf, static_cast<size_t>(n)) != n) {
        st = ErrnoStatus(errno, StrCat("write ", dst));
        break;
      }
    }
    close(in);
    close(out);
    JW_RETURN_IF_ERROR(st);
  }
  JW_ASSIGN_OR_RETURN(std::string applets, RunCapture({busybox, "--list"}));
  for (std::string_view a : Split(applets, '\n')) {
    a = StripWhitespace(a);
    if (a.empty() || a == "busybox" || a.find('/') != std::string_view::npos) {
      continue;
    }
    JW_RETURN_IF_ERROR(Symlink("busybox", StrCat(dir, "/bin/", a)));
  }
  JW_RETURN_IF_ERROR(WriteText(dir + "/etc/passwd",
                               "root:x:0:0:root:/root:/bin/sh\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                               0644));
  JW_RETURN_IF_ERROR(WriteText(dir + "/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644));
  JW_RETURN_IF_ERROR(WriteText(dir + "/etc/hosts", "127.0.0.1 localhost\n", 0644));
  JW_RETURN_IF_ERROR(WriteText(dir + "/etc/hostname", "jail\n", 0644));
  return absl::OkStatus();
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
