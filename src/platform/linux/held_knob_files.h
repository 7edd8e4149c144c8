#pragma once

// HeldKnobFiles: descriptors held per jail for the files the limit
// enforcer's drift check and the slow tier re-read (issue 16).

#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "platform/linux/cgroup_knob_writer.h"

namespace jailwarden::platform {

// The process-wide budget of descriptors kept open only to save work
// (HeldKnobFiles, ProcessScanCache's schedstat): a quarter of the soft
// RLIMIT_NOFILE read at the first call, so held files never take the
// descriptors the daemon needs (and a jail that forks thousands of
// processes cannot make it hold thousands). TakeHeldFd: true and one
// counted when there is room; ReturnHeldFd when such a descriptor is
// closed. Past the budget a file is opened, read and closed each time.
// Thread-safe (atomic).
bool TakeHeldFd();
void ReturnHeldFd();

// Host-side files re-read at every check or pass (a jail's cgroup knobs,
// its cgroup.procs, its init's mountinfo), each opened once
// (O_RDONLY|O_CLOEXEC) at its first read and re-read with pread from
// offset 0: one syscall per file and check instead of open, read, close.
// A file whose cgroup is gone (ENODEV) is dropped and reported NotFound.
// Within the held-descriptor budget (TakeHeldFd); past it, read unheld.
// Only paths the daemon chose are opened (its own cgroup directories,
// /proc/<init>/...), never one below a directory the jail controls. Not
// thread-safe (the enforcer holds one per jail under its mutex, the usage
// reader one per jail under the scan lock).
class HeldKnobFiles final : public KnobReader {
 public:
  HeldKnobFiles() = default;
  ~HeldKnobFiles() override;
  HeldKnobFiles(const HeldKnobFiles&) = delete;
  HeldKnobFiles& operator=(const HeldKnobFiles&) = delete;

  absl::StatusOr<std::string> Read(const std::string& path) override;
  // How many files are held now (tests).
  std::size_t size() const { return fds_.size(); }

 private:
  std::map<std::string, int, std::less<>> fds_;
};

}  // namespace jailwarden::platform
