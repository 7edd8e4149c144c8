// The daemon's read-only view of the runtime's records (jailwarden/oci/observe.h).

#include "jailwarden/oci/observe.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "oci/state.h"

namespace jailwarden::oci {
namespace {

constexpr char kCgroupMount[] = "/sys/fs/cgroup/";
constexpr std::size_t kMaxRecordBytes = 1 << 22;

// Owned by root, not writable by group or others: only root can have
// written what is below.
std::string OwnershipProblem(const struct stat& st) {
  if (st.st_uid != 0) {
    return StrCat("owned by uid ", st.st_uid, ", not root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return StrCat("writable by group or others (mode ", st.st_mode & 07777, ")");
  }
  return "";
}

// An absolute path below /sys/fs/cgroup without "." or ".." components.
bool IsCgroupDir(const std::string& path) {
  if (path.rfind(kCgroupMount, 0) != 0) {
    return false;
  }
  const std::string rest = path.substr(1);
  for (std::string_view part : Split(rest, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
  }
  return true;
}

// Reads <root>/<id>/state.json through `root_fd` without following a
// symlink at either step. The error names why.
absl::StatusOr<std::string> ReadRecordAt(int root_fd, const std::string& id) {
  int dir = openat(root_fd, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) {
    return ErrnoStatus(errno, "open");
  }
  struct stat st;
  if (fstat(dir, &st) != 0) {
    int err = errno;
    close(dir);
    return ErrnoStatus(err, "fstat");
  }
  if (std::string why = OwnershipProblem(st); !why.empty()) {
    close(dir);
    return absl::FailedPreconditionError(why);
  }
  int fd = openat(dir, "state.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int err = errno;
  close(dir);
  if (fd < 0) {
    return ErrnoStatus(err, "open state.json");
  }
  std::string why;
  if (fstat(fd, &st) != 0) {
    why = "fstat failed";
  } else if (!S_ISREG(st.st_mode)) {
    why = "state.json is not a regular file";
  } else if (std::string own = OwnershipProblem(st); !own.empty()) {
    why = "state.json " + own;
  } else if (static_cast<std::size_t>(st.st_size) > kMaxRecordBytes) {
    why = "state.json is larger than 4 MiB";
  }
  if (!why.empty()) {
    close(fd);
    return absl::FailedPreconditionError(why);
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || text.size() + static_cast<std::size_t>(n) > kMaxRecordBytes) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return text;
}

// The keys the daemon's usage reader needs, each checked; "" or why not.
std::string TakeBackendState(const ContainerRecord& rec,
                             std::map<std::string, std::string>* out) {
  for (const auto& [key, value] : rec.backend_state) {
    if (key == "cgroup.version") {
      (*out)[key] = value;
    } else if (key.rfind("cgroup.", 0) == 0) {
      if (!IsCgroupDir(value)) {
        return StrCat("backend_state ", key, " '", value, "' is not below ", kCgroupMount);
      }
      (*out)[key] = value;
    } else if (key == "cgroup_leaf") {
      if (value.empty() || value.find('/') != std::string::npos || value == "." ||
          value == "..") {
        return StrCat("backend_state cgroup_leaf '", value, "' is not a directory name");
      }
      (*out)[key] = value;
    }
    // "root" and the rest are left out: nothing is read from inside the
    // container's file system.
  }
  if (out->empty()) {
    return "no cgroup recorded";
  }
  (*out)["init.pid"] = std::to_string(rec.pid);
  return "";
}

}  // namespace

std::string DefaultRoot() {
  if (const char* env = getenv("JAILWARDEN_OCI_ROOT"); env != nullptr && *env == '/') {
    return env;
  }
  return "/run/jailwarden-oci";
}

absl::StatusOr<ObservedRoot> ObserveRoot(const std::string& root) {
  ObservedRoot out;
  int root_fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0) {
    if (errno == ENOENT) {
      return out;
    }
    if (errno == ELOOP || errno == ENOTDIR) {
      return absl::FailedPreconditionError(
          StrCat("OCI runtime root ", root, " is a symlink or not a directory"));
    }
    return ErrnoStatus(errno, StrCat("open OCI runtime root ", root));
  }
  struct stat st;
  if (fstat(root_fd, &st) != 0) {
    int err = errno;
    close(root_fd);
    return ErrnoStatus(err, StrCat("fstat ", root));
  }
  if (std::string why = OwnershipProblem(st); !why.empty()) {
    close(root_fd);
    return absl::FailedPreconditionError(
        StrCat("OCI runtime root ", root, " is ", why, ": its records are not trusted"));
  }
  int list_fd = dup(root_fd);
  DIR* d = list_fd >= 0 ? fdopendir(list_fd) : nullptr;
  if (d == nullptr) {
    int err = errno;
    if (list_fd >= 0) close(list_fd);
    close(root_fd);
    return ErrnoStatus(err, StrCat("opendir ", root));
  }
  std::vector<std::string> ids;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') {
      ids.emplace_back(e->d_name);
    }
  }
  closedir(d);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    const std::string where = StrCat(root, "/", id);
    absl::StatusOr<std::string> text = ReadRecordAt(root_fd, id);
    if (!text.ok()) {
      // A create between its mkdir and its first record, or a delete
      // after the record's removal: not a container (yet, any more).
      if (!absl::IsNotFound(text.status())) {
        out.skipped.push_back(StrCat(where, ": ", std::string(text.status().message())));
      }
      continue;
    }
    absl::StatusOr<ContainerRecord> rec = ParseRecord(*text, where + "/state.json");
    if (!rec.ok()) {
      out.skipped.push_back(std::string(rec.status().message()));
      continue;
    }
    if (rec->creating) {
      continue;  // adopted once `create` has finished
    }
    if (rec->id != id) {
      out.skipped.push_back(StrCat(where, ": the record names id '", rec->id, "'"));
      continue;
    }
    ObservedContainer c;
    if (std::string why = TakeBackendState(*rec, &c.backend_state); !why.empty()) {
      out.skipped.push_back(StrCat(where, ": ", why));
      continue;
    }
    c.id = id;
    c.name = rec->name;
    c.bundle = rec->bundle;
    c.created = rec->created;
    c.status = StatusOf(root, *rec);
    c.pid = rec->pid;
    c.rules = rec->rules;
    c.annotations = rec->annotations;
    out.containers.push_back(std::move(c));
  }
  close(root_fd);
  return out;
}

}  // namespace jailwarden::oci
