#include "platform/linux/safe_path.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <vector>

namespace jailwarden::platform {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr int kEagainRetries = 16;

std::atomic<ResolveMethod> g_method{ResolveMethod::kAuto};
std::atomic<bool> g_no_openat2{false};  // kAuto saw ENOSYS

int Fail(int err) { return -err; }

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) {
    close(fd);
  }
  fds.clear();
}

// Appends the components of `path` ("a//b/./c" -> a, b, ., c; empty ones
// dropped) in front of `todo`, keeping their order.
void PushFront(std::string_view path, std::deque<std::string>& todo) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    if (j > i) {
      parts.emplace_back(path.substr(i, j - i));
    }
    i = j + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    todo.push_front(*it);
  }
}

// The walk: an O_PATH descriptor of `path` beneath `root_fd`, with the
// rules of RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS. `stack` holds one
// descriptor per directory level below the root, so ".." pops and never
// asks the file system.
int Walk(int root_fd, std::string_view path, bool follow_last) {
  std::vector<int> stack;
  int top = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) {
    return Fail(errno);
  }
  stack.push_back(top);
  std::deque<std::string> todo;
  PushFront(path, todo);
  int links = 0;
  int result = -1;
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    const bool last = todo.empty();
    if (comp == ".") {
      continue;
    }
    if (comp == "..") {
      if (stack.size() == 1) {
        CloseAll(stack);
        return Fail(EXDEV);
      }
      close(stack.back());
      stack.pop_back();
      continue;
    }
    int fd = openat(stack.back(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      CloseAll(stack);
      return Fail(err);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      CloseAll(stack);
      return Fail(err);
    }
    if (S_ISLNK(st.st_mode)) {
      if (last && !follow_last) {
        result = fd;
        break;
      }
      struct statfs sfs;
      int err = 0;
      char target[4096];
      ssize_t n = -1;
      if (fstatfs(fd, &sfs) != 0) {
        err = errno;
      } else if (sfs.f_type == PROC_SUPER_MAGIC) {
        err = ELOOP;  // procfs: magic links (and /proc/self) are refused
      } else if (++links > kMaxSymlinks) {
        err = ELOOP;
      } else if ((n = readlinkat(fd, "", target, sizeof(target))) < 0) {
        err = errno;
      } else if (n == 0) {
        err = ENOENT;
      } else if (static_cast<size_t>(n) >= sizeof(target)) {
        err = ENAMETOOLONG;
      } else if (target[0] == '/') {
        err = EXDEV;  // absolute: leads out of the root
      }
      close(fd);
      if (err != 0) {
        CloseAll(stack);
        return Fail(err);
      }
      PushFront(std::string_view(target, static_cast<size_t>(n)), todo);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      stack.push_back(fd);
      continue;
    }
    if (!last) {
      close(fd);
      CloseAll(stack);
      return Fail(ENOTDIR);
    }
    result = fd;
  }
  if (result < 0) {
    result = stack.back();
    stack.pop_back();
  }
  CloseAll(stack);
  return result;
}

std::string_view Relative(std::string_view path) {
  while (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  return path;
}

int Openat2(int root_fd, std::string_view rel, int flags) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  std::string p(rel.empty() ? "." : rel);
  for (int i = 0; i < kEagainRetries; ++i) {
    long fd = syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof(how));
    if (fd >= 0) {
      return static_cast<int>(fd);
    }
    // EAGAIN: a rename raced with a ".." check; the kernel asks to retry.
    if (errno != EAGAIN) {
      return Fail(errno);
    }
  }
  return Fail(EAGAIN);
}

}  // namespace

void SetResolveMethod(ResolveMethod method) { g_method.store(method); }
ResolveMethod GetResolveMethod() { return g_method.load(); }

const char* SafePathHint(int err) {
  switch (err) {
    case EXDEV:
      return "a symbolic link or \"..\" on the path leads out of the jail's root";
    case ELOOP:
      return "a magic link or more than 40 symbolic links on the path";
    default:
      return "";
  }
}

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

PathSplit SplitLast(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  size_t s = path.rfind('/');
  if (s == std::string_view::npos) {
    return {"", std::string(path)};
  }
  return {std::string(path.substr(0, s)), std::string(path.substr(s + 1))};
}

int OpenBeneath(int root_fd, std::string_view path, int flags) {
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    return Fail(EINVAL);
  }
  std::string_view rel = Relative(path);
  ResolveMethod m = g_method.load();
  if (m == ResolveMethod::kOpenat2 || (m == ResolveMethod::kAuto && !g_no_openat2.load())) {
    int fd = Openat2(root_fd, rel, flags);
    if (fd != -ENOSYS || m == ResolveMethod::kOpenat2) {
      return fd;
    }
    g_no_openat2.store(true);
  }
  const bool follow_last = (flags & O_NOFOLLOW) == 0;
  int fd = Walk(root_fd, rel, follow_last);
  if (fd < 0) {
    return fd;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Fail(err);
  }
  if ((flags & O_DIRECTORY) != 0 && !S_ISDIR(st.st_mode)) {
    close(fd);
    return Fail(S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR);
  }
  if ((flags & O_PATH) != 0) {
    return fd;
  }
  if (S_ISLNK(st.st_mode)) {
    close(fd);
    return Fail(ELOOP);  // open(2) with O_NOFOLLOW on a symlink
  }
  // Reopen exactly the inode the walk found.
  int out = open(FdPath(fd).c_str(), (flags & ~O_NOFOLLOW) | O_CLOEXEC);
  int err = errno;
  close(fd);
  return out >= 0 ? out : Fail(err);
}

int MkdirAllBeneath(int root_fd, std::string_view path, mode_t mode) {
  int fd = OpenBeneath(root_fd, path, O_PATH | O_DIRECTORY);
  if (fd != -ENOENT) {
    return fd;
  }
  std::deque<std::string> comps;
  PushFront(Relative(path), comps);
  int cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) {
    return Fail(errno);
  }
  std::string prefix;
  for (const std::string& comp : comps) {
    prefix += "/";
    prefix += comp;
    int next = OpenBeneath(root_fd, prefix, O_PATH | O_DIRECTORY);
    if (next == -ENOENT) {
      // `cur` is the resolved parent; mkdirat never follows a final link
      // (a dangling one answers EEXIST and the lookup below ENOENT).
      if (mkdirat(cur, comp.c_str(), mode) != 0 && errno != EEXIST) {
        int err = errno;
        close(cur);
        return Fail(err);
      }
      next = OpenBeneath(root_fd, prefix, O_PATH | O_DIRECTORY);
    }
    close(cur);
    if (next < 0) {
      return next;
    }
    cur = next;
  }
  return cur;
}

int OpenFileBeneath(int root_fd, std::string_view path, int flags, mode_t mode) {
  PathSplit split = SplitLast(Relative(path));
  if (split.name.empty() || split.name == "." || split.name == "..") {
    return Fail(EINVAL);
  }
  flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW);
  int parent = MkdirAllBeneath(root_fd, split.parent, 0755);
  if (parent < 0) {
    return parent;
  }
  int result = Fail(EEXIST);
  for (int attempt = 0; attempt < 3 && result == -EEXIST; ++attempt) {
    int fd = openat(parent, split.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      fd = openat(parent, split.name.c_str(), flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  mode);
      // EEXIST: it appeared meanwhile; look again.
      result = fd >= 0 ? fd : Fail(errno);
      continue;
    }
    if (fd < 0) {
      result = Fail(errno);
      break;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
      close(fd);
      fd = OpenBeneath(root_fd, path, O_PATH);  // follow it, beneath the root
      if (fd < 0) {
        result = fd;
        break;
      }
    }
    if (fstat(fd, &st) != 0) {
      result = Fail(errno);
    } else if (S_ISDIR(st.st_mode)) {
      result = Fail(EISDIR);
    } else if (!S_ISREG(st.st_mode)) {
      result = Fail(ENXIO);
    } else {
      result = open(FdPath(fd).c_str(), flags | O_CLOEXEC | O_NOCTTY);
      if (result < 0) {
        result = Fail(errno);
      }
    }
    close(fd);
  }
  close(parent);
  return result;
}

}  // namespace jailwarden::platform
