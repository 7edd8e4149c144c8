#pragma once

// What the Linux readers and the enforcer need to know about one jail,
// taken from platform::JailInstance::backend_state (keys written by the
// Linux JailRuntime, documented in jailwarden/platform/linux/
// linux_jail_runtime.h), and small file helpers shared by them.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

struct LinuxJailPaths {
  std::string name;
  // Hierarchy key ("memory", "pids", "cpu", "cpuacct", "blkio", "freezer",
  // "unified") -> absolute cgroup directory.
  std::map<std::string, std::string> cgroups;
  // The leaf below them where the jail's processes are ("" for a jail
  // recorded before leaves existed: its processes are in the directories
  // above). The limits are on `cgroups` (cgroup.h, kCgroupLeaf).
  std::string leaf;
  std::string version;     // "hybrid", "v2" or "v1"
  int64_t init_pid = -1;   // host pid of the jail's pid 1
  std::string devpts;      // host view of the jail's devpts ("" = none)
  std::string root;        // the jail's root directory (host view)
  std::string overlay_upper;  // thin jails: the writable layer
  absl::Time started = absl::InfinitePast();

  // The directory of hierarchy `key`, "" when the jail has none.
  const std::string& Cgroup(std::string_view key) const;
  // The directory whose cgroup.procs lists the jail's processes: the leaf
  // of unified, else of pids, else of freezer.
  std::string MembershipDir() const;
};

// Reads the backend_state keys. InvalidArgument if no cgroup is recorded.
absl::StatusOr<LinuxJailPaths> LinuxJailPathsFromInstance(const JailInstance& instance);

// A cgroup or /proc file held open and re-read from offset 0 with pread,
// so a fast-tier read is one syscall and no allocation. Move-only.
class HeldFile {
 public:
  HeldFile() = default;
  ~HeldFile();
  HeldFile(HeldFile&& other) noexcept;
  HeldFile& operator=(HeldFile&& other) noexcept;
  HeldFile(const HeldFile&) = delete;
  HeldFile& operator=(const HeldFile&) = delete;

  // Opens `path` read-only. NotFound etc. from errno.
  absl::Status Open(const std::string& path);
  bool is_open() const { return fd_ >= 0; }

  // Reads the whole file into buf[0, size) (truncated at size - 1 bytes)
  // and returns a view of it. NotFound when the cgroup was removed
  // (ENODEV), the errno's status otherwise. No allocation on success.
  absl::StatusOr<std::string_view> Read(char* buf, std::size_t size) const;

 private:
  int fd_ = -1;
};

// Whole-file helpers for the slow paths (allocate).
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Writes `value` in one write(2). The errno's status names the path.
absl::Status WriteFileString(const std::string& path, std::string_view value);

bool PathExists(const std::string& path);
std::string JoinCgroupPath(std::string_view dir, std::string_view file);

// The whole-disk block device ("MAJ:MIN") holding `path`, for the blkio /
// io.max throttles (which refuse partitions). NotFound when `path` is on a
// file system without a block device (tmpfs, overlay on tmpfs).
absl::StatusOr<std::string> BlockDeviceOf(const std::string& path);

}  // namespace jailwarden::platform
