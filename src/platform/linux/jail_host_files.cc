#include "platform/linux/jail_host_files.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

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

absl::Status CopyFile(const std::string& from, const std::string& to) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return ErrnoStatus(errno, StrCat("open ", from));
  }
  struct stat st;
  fstat(in, &st);
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
  if (out < 0) {
    int err = errno;
    close(in);
    return ErrnoStatus(err, StrCat("create ", to));
  }
  char buf[65536];
  ssize_t n;
  absl::Status result;
  while ((n = read(in, buf, sizeof(buf))) > 0) {
    if (write(out, buf, static_cast<size_t>(n)) != n) {
      result = ErrnoStatus(errno, StrCat("write ", to));
      break;
    }
  }
  if (n < 0) {
    result = ErrnoStatus(errno, StrCat("read ", from));
  }
  fchmod(out, st.st_mode & 07777);
  close(in);
  close(out);
  return result;
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
