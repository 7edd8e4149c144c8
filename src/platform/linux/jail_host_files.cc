#include "platform/linux/jail_host_files.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <cstring>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/safe_path.h"

namespace jailwarden::platform {

bool HostPathExists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

bool PathIsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status RemoveTree(const std::string& path) {
  if (!HostPathExists(path)) {
    return absl::OkStatus();
  }
  auto fn = [](const char* p, const struct stat*, int flag, struct FTW*) -> int {
    return flag == FTW_DP ? rmdir(p) : unlink(p);
  };
  if (nftw(path.c_str(), fn, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
    return ErrnoStatus(errno, StrCat("remove ", path));
  }
  return absl::OkStatus();
}

namespace {

absl::Status PathError(int err, const std::string& what, const std::string& path) {
  std::string msg = StrCat(what, " ", path, ": ", ErrnoName(err));
  if (const char* hint = SafePathHint(err); *hint != '\0') {
    msg += StrCat(": ", hint);
  } else {
    msg += StrCat(": ", strerror(err));
  }
  return ErrnoStatusWithMessage(err, msg);
}

}  // namespace

absl::Status CopyData(int in, int out, const std::string& from, const std::string& to) {
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof(buf))) > 0) {
    if (write(out, buf, static_cast<size_t>(n)) != n) {
      return ErrnoStatus(errno, StrCat("write ", to));
    }
  }
  if (n < 0) {
    return ErrnoStatus(errno, StrCat("read ", from));
  }
  return absl::OkStatus();
}


absl::Status WriteFileBeneath(int root_fd, const std::string& what, const std::string& target,
                              mode_t mode, const std::function<absl::Status(int)>& fill) {
  PathSplit split = SplitLast(target);
  if (split.name.empty() || split.name == "." || split.name == "..") {
    return PathError(EINVAL, what, target);
  }
  int parent = MkdirAllBeneath(root_fd, split.parent, 0755);
  if (parent < 0) {
    return PathError(-parent, what, target);
  }
  absl::Status result;
  struct stat tst;
  if (fstatat(parent, split.name.c_str(), &tst, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(tst.st_mode)) {
    // A link: written through only while it stays beneath the root.
    int out = OpenFileBeneath(root_fd, target, O_WRONLY | O_TRUNC, mode);
    if (out < 0) {
      result = PathError(-out, what, target);
    } else {
      result = fill(out);
      if (result.ok() && fchmod(out, mode) != 0) {
        result = ErrnoStatus(errno, StrCat("chmod ", target));
      }
      close(out);
    }
  } else {
    // Replaced atomically in the directory the resolution found.
    std::string tmp = StrCat(".", split.name, ".jw-tmp");
    unlinkat(parent, tmp.c_str(), 0);
    int out = openat(parent, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     mode);
    if (out < 0) {
      result = PathError(errno, what, target);
    } else {
      result = fill(out);
      if (result.ok() && (fchmod(out, mode) != 0 || fsync(out) != 0)) {
        result = ErrnoStatus(errno, StrCat("fsync ", target));
      }
      close(out);
      if (result.ok() && renameat(parent, tmp.c_str(), parent, split.name.c_str()) != 0) {
        result = PathError(errno, what, target);
      }
      if (!result.ok()) {
        unlinkat(parent, tmp.c_str(), 0);
      }
    }
  }
  close(parent);
  return result;
}

absl::Status SymlinkBeneath(int root_fd, const std::string& target, const std::string& link) {
  PathSplit split = SplitLast(link);
  int parent = MkdirAllBeneath(root_fd, split.parent, 0755);
  if (parent < 0) {
    return PathError(-parent, "symlink", link);
  }
  absl::Status result;
  if (unlinkat(parent, split.name.c_str(), 0) != 0 && errno != ENOENT) {
    result = PathError(errno, "symlink", link);
  } else if (symlinkat(target.c_str(), parent, split.name.c_str()) != 0) {
    result = PathError(errno, "symlink", link);
  }
  close(parent);
  return result;
}

absl::Status MkdirBeneath(int root_fd, const std::string& dir, mode_t mode) {
  int fd = MkdirAllBeneath(root_fd, dir, mode);
  if (fd < 0) {
    return PathError(-fd, "mkdir", dir);
  }
  // umask-free; through the descriptor, so exactly the directory found.
  int rc = chmod(FdPath(fd).c_str(), mode);
  int err = errno;
  close(fd);
  return rc == 0 ? absl::OkStatus() : PathError(err, "chmod", dir);
}

absl::Status CopyFileIntoRoot(const std::string& from, const std::string& root,
                              const std::string& target) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return ErrnoStatus(errno, StrCat("open ", from));
  }
  struct stat st;
  if (fstat(in, &st) != 0) {
    int err = errno;
    close(in);
    return ErrnoStatus(err, StrCat("stat ", from));
  }
  if (!S_ISREG(st.st_mode)) {
    close(in);
    return ErrnoStatusWithMessage(EINVAL, StrCat("copy source ", from, ": not a regular file"));
  }
  int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    int err = errno;
    close(in);
    return ErrnoStatus(err, StrCat("open root ", root));
  }
  absl::Status result =
      WriteFileBeneath(root_fd, "copy target", target, st.st_mode & 07777,
                       [&](int out) { return CopyData(in, out, from, target); });
  close(root_fd);
  close(in);
  return result;
}

absl::StatusOr<mode_t> CloseToOthers(const std::string& dir) {
  if (dir.empty() || dir == "/") {
    return absl::FailedPreconditionError(
        StrCat("jail roots directly in \"/\" cannot be kept from host users; "
               "give them a directory of their own"));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, StrCat("stat ", dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(StrCat(dir, ": not a directory"));
  }
  const mode_t mode = st.st_mode & 07777;
  if ((mode & (S_ISVTX | S_IWOTH)) != 0) {
    // /tmp and the like: closing it would break the host.
    char m[16];
    snprintf(m, sizeof(m), "%04o", static_cast<unsigned>(mode));
    return absl::FailedPreconditionError(
        StrCat(dir, " is a shared directory (mode ", m,
               "); jail roots need a directory of their own that can be closed to host "
               "users (0700)"));
  }
  if ((mode & 077) == 0) {
    return static_cast<mode_t>(0);
  }
  if (chmod(dir.c_str(), mode & ~static_cast<mode_t>(077)) != 0) {
    return ErrnoStatus(errno, StrCat("chmod go-rwx ", dir));
  }
  return mode;
}

absl::Status CloseRootParent(const std::string& jail, const std::string& path) {
  absl::StatusOr<mode_t> was = CloseToOthers(Dirname(path));
  if (!was.ok()) {
    return was.status();
  }
  if (*was != 0) {
    char mode[16];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(*was));
    LogWarning("jail roots directory was open to host users; closed (go-rwx)",
               {{"jail", jail}, {"dir", Dirname(path)}, {"mode_was", mode}});
  }
  return absl::OkStatus();
}

absl::Status CopyIntoRoot(const JailSpec& spec) {
  for (const CopySpec& c : spec.copies) {
    if (c.target.empty() || c.target[0] != '/') {
      return absl::InvalidArgumentError(StrCat("copy target ", c.target, ": not absolute"));
    }
    if (absl::Status st = CopyFileIntoRoot(c.source, spec.path, c.target); !st.ok()) {
      std::string msg = StrCat("jail ", spec.name, ": ", ToStd(st.message()));
      std::optional<int> err = StatusErrno(st);
      return err ? ErrnoStatusWithMessage(*err, msg) : absl::Status(st.code(), msg);
    }
  }
  return absl::OkStatus();
}

std::string Dirname(const std::string& p) {
  size_t s = p.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : p.substr(0, s);
}

std::string Basename(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace jailwarden::platform
