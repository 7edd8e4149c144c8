#pragma once

// service::StateDirLock: one jailwarden daemon per state directory. An
// exclusive flock(2) on <state_dir>/jailwarden.lock, held for the life of
// the object, with the holder's pid written in the file so a second daemon
// can say who holds it. The lock is taken before anything is adopted or
// changed (`jailwarden serve`, Daemon::Start), and the kernel drops it when
// the holder exits in any way, kill -9 included, so a stale file never
// blocks a restart. The descriptor is O_CLOEXEC: jail processes never
// inherit it.
//
// Thread-safety: thread-compatible; the lock is per open file description,
// so a second Acquire in the same process also fails.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace jailwarden::service {

class StateDirLock {
 public:
  // The lock file's name inside the state directory.
  static constexpr char kFileName[] = "jailwarden.lock";

  // Creates `state_dir` (0700) if missing, then takes the lock without
  // waiting; once held, an existing state_dir open to group or others
  // loses that access (go-rwx, logged; a sticky or world-writable one is
  // only named in a warning). Errors: Unavailable when another process holds it, with its
  // pid in the message ("state_dir /var/lib/jailwarden is in use by
  // jailwarden pid 1234 ..."); an ErrnoStatus from mkdir(2), open(2),
  // flock(2) or write(2) otherwise.
  static absl::StatusOr<std::unique_ptr<StateDirLock>> Acquire(const std::string& state_dir);

  // Releases the lock (the file stays: removing it would race with the
  // next holder's open).
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  StateDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace jailwarden::service
