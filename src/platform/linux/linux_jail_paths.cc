#include "platform/linux/linux_jail_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

const std::string& EmptyString() {
  static const std::string* empty = new std::string();
  return *empty;
}

}  // namespace

const std::string& LinuxJailPaths::Cgroup(std::string_view key) const {
  auto it = cgroups.find(std::string(key));
  return it == cgroups.end() ? EmptyString() : it->second;
}

std::string LinuxJailPaths::MembershipDir() const {
  for (const char* key : {"unified", "pids", "freezer"}) {
    const std::string& dir = Cgroup(key);
    if (!dir.empty()) {
      return leaf.empty() ? dir : JoinCgroupPath(dir, leaf);
    }
  }
  return "";
}

absl::StatusOr<LinuxJailPaths> LinuxJailPathsFromInstance(const JailInstance& instance) {
  LinuxJailPaths paths;
  paths.name = instance.ref.name;
  paths.init_pid = instance.init_pid;
  paths.started = instance.started;
  for (const auto& [key, value] : instance.backend_state) {
    if (key == "cgroup.version") {
      paths.version = value;
    } else if (StartsWith(key, "cgroup.")) {
      paths.cgroups[key.substr(7)] = value;
    } else if (key == "cgroup_leaf") {  // cgroup.h: kCgroupLeafKey
      paths.leaf = value;
    } else if (key == "devpts") {
      paths.devpts = value;
    } else if (key == "root") {
      paths.root = value;
    } else if (key == "overlay.upper") {
      paths.overlay_upper = value;
    } else if (key == "init.pid" && paths.init_pid <= 0) {
      paths.init_pid = ParseInt<int64_t>(value).value_or(-1);
    }
  }
  if (paths.cgroups.empty()) {
    return absl::InvalidArgumentError(
        StrCat("jail ", paths.name, ": no cgroup recorded in its backend state"));
  }
  return paths;
}

HeldFile::~HeldFile() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

HeldFile::HeldFile(HeldFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

HeldFile& HeldFile::operator=(HeldFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

absl::Status HeldFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  if (fd_ >= 0) {
    close(fd_);
  }
  fd_ = fd;
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> HeldFile::Read(char* buf, std::size_t size) const {
  if (fd_ < 0) {
    return absl::FailedPreconditionError("file not open");
  }
  ssize_t n = pread(fd_, buf, size - 1, 0);
  if (n < 0) {
    int err = errno;
    if (err == ENODEV || err == ENOENT || err == ESRCH) {
      return absl::NotFoundError("cgroup or process gone");
    }
    return ErrnoStatus(err, "pread");
  }
  buf[n] = '\0';
  return std::string_view(buf, static_cast<std::size_t>(n));
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      close(fd);
      return ErrnoStatus(err, StrCat("read ", path));
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

absl::Status WriteFileString(const std::string& path, std::string_view value) {
  // O_TRUNC as a shell's ">" does: cgroupfs and procfs ignore it, and a
  // fixture tree of regular files then holds exactly the last value.
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoStatus(err, StrCat("write \"", value, "\" to ", path));
  }
  return absl::OkStatus();
}

bool PathExists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string JoinCgroupPath(std::string_view dir, std::string_view file) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') {
    out += '/';
  }
  out.append(file);
  return out;
}

absl::StatusOr<std::string> BlockDeviceOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, StrCat("stat ", path));
  }
  unsigned int maj = major(st.st_dev);
  unsigned int min = minor(st.st_dev);
  if (maj == 0) {
    return absl::NotFoundError(StrCat(path, " is not on a block device"));
  }
  std::string dev = StrCat(maj, ":", min);
  std::string sys = StrCat("/sys/dev/block/", dev);
  if (!PathExists(sys)) {
    return absl::NotFoundError(StrCat(path, ": no ", sys));
  }
  // A partition's parent directory in sysfs is the whole disk.
  if (PathExists(StrCat(sys, "/partition"))) {
    absl::StatusOr<std::string> parent = ReadFileToString(StrCat(sys, "/../dev"));
    if (!parent.ok()) {
      return parent.status();
    }
    return std::string(StripWhitespace(*parent));
  }
  return dev;
}

}  // namespace jailwarden::platform
