#pragma once

// The project ids linux.disk_quota gives jails' writable layers on ext4
// and xfs, allocated once per jail name and kept in
// <state_dir>/quota-projects (written with base::WriteFileAtomically), so
// two jails never share one: a 16-bit hash of the name alone can collide,
// and two jails in one project would share one limit. An id is never
// handed to a second name while the first holds it, nor while the file
// system still charges anything to it (files left under it by a jail
// destroyed earlier, or an admin's own project). Thread-safe (one mutex).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace jailwarden::platform {

// jailwarden's range: 0x4a570000 + 0..0xffff ("JW").
inline constexpr uint32_t kFirstDiskQuotaProject = 0x4a570000u;
inline constexpr uint32_t kDiskQuotaProjects = 0x10000u;

class DiskQuotaProjects {
 public:
  // Whether the file system still charges blocks or inodes to a project
  // (quotactl Q_GETQUOTA; for the allocator to skip it). An error counts
  // as in use.
  using InUse = std::function<bool(uint32_t project)>;

  // `file` is the table's path (its directory must exist).
  explicit DiskQuotaProjects(std::string file) : file_(std::move(file)) {}

  // The id of jail `name`: the one recorded, else the first free one from
  // DiskQuotaProject(name) on (wrapping within the range) that no other
  // name holds and `in_use` does not report, recorded before it is
  // returned. ResourceExhausted when the range is full; DataLoss naming
  // file:line when the table does not parse; the write's errno status.
  absl::StatusOr<uint32_t> Allocate(std::string_view name, const InUse& in_use);

  // Forgets `name`'s id (destroy); OK when it had none. The write's error.
  absl::Status Release(std::string_view name);

  // The table as it is on disk (name -> id). Errors as Allocate's.
  absl::StatusOr<std::map<std::string, uint32_t>> Read() const;

 private:
  absl::StatusOr<std::map<std::string, uint32_t>> LoadLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StoreLocked(const std::map<std::string, uint32_t>& table)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string file_;
  mutable absl::Mutex mu_;
};

}  // namespace jailwarden::platform
