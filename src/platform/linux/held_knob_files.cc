// HeldKnobFiles and the held-descriptor budget (held_knob_files.h).

#include "platform/linux/held_knob_files.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

namespace {

std::atomic<int64_t> held_fds{0};

int64_t HeldFdBudget() {
  static const int64_t budget = [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      return int64_t{256};
    }
    if (rl.rlim_cur == RLIM_INFINITY) {
      return int64_t{1} << 20;
    }
    return static_cast<int64_t>(rl.rlim_cur / 4);
  }();
  return budget;
}

// All of `fd` from offset 0 (seq_files: a short read is the end), or the
// errno.
int PreadAll(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(out->size()));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    out->append(buf, static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < sizeof(buf)) {
      return 0;
    }
  }
}

}  // namespace

bool TakeHeldFd() {
  if (held_fds.fetch_add(1, std::memory_order_relaxed) < HeldFdBudget()) {
    return true;
  }
  held_fds.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void ReturnHeldFd() { held_fds.fetch_sub(1, std::memory_order_relaxed); }

HeldKnobFiles::~HeldKnobFiles() {
  for (const auto& [path, fd] : fds_) {
    close(fd);
    ReturnHeldFd();
  }
}

absl::StatusOr<std::string> HeldKnobFiles::Read(const std::string& path) {
  auto it = fds_.find(path);
  int fd = it != fds_.end() ? it->second : -1;
  bool held = fd >= 0;
  if (!held) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return ErrnoStatus(errno, StrCat("open ", path));
    }
  }
  std::string out;
  const int err = PreadAll(fd, &out);
  if (err == 0 && held) {
    return out;
  }
  if (err == 0 && TakeHeldFd()) {
    fds_.emplace(path, fd);
    return out;
  }
  close(fd);
  if (held) {
    // Read failed: drop it. A cgroup made again under the name (ENODEV
    // here) is opened afresh.
    fds_.erase(it);
    ReturnHeldFd();
  }
  if (err == 0) {
    return out;
  }
  if (err == ENODEV || err == ESRCH) {
    return absl::NotFoundError(StrCat("read ", path, ": cgroup or process gone"));
  }
  return ErrnoStatus(err, StrCat("read ", path));
}

}  // namespace jailwarden::platform
