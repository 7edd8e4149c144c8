#pragma once

// How the sampler reads the host (../shared/design/architecture.md §2).
// Backends implement UsageReader; the racct layer turns raw readings into
// RACCT usage with FreeBSD's meaning.

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {

using ResourceMask = std::bitset<rctl::kResourceCount>;

// A jail as the reader sees it. `parent` is the name of the enclosing jail
// ("" for a top-level jail); a parent's container includes its children.
struct JailRef {
  std::string name;
  int64_t jid = -1;
  std::string parent;
  // Backend cookie (e.g. index into held cgroup fds). Opaque above platform.
  uint64_t handle = 0;
  friend bool operator==(const JailRef&, const JailRef&) = default;
};

// One reading of a container, in kernel units (rctl::UsageVector).
// `present` says which resources this read filled. For a resource in
// `cumulative`, value is a running total the racct layer turns into the
// kernel's meaning: cputime total (µs) → pcpu; bytes or operations since an
// arbitrary start → readbps/writebps/readiops/writeiops in the current
// one-second window. A resource present and not cumulative is taken as the
// kernel would report it (FreeBSD rctl_get_racct gives pcpu and the rates).
struct RawUsage {
  rctl::UsageVector value{};
  ResourceMask present;
  ResourceMask cumulative;
};

// One process, for `process:` subjects, `/process` and `/user` per.
struct ProcessUsage {
  int64_t pid = 0;
  int64_t ruid = 0;  // real uid (user containers are by real uid)
  int64_t euid = 0;  // effective uid (printed in the log line)
  std::string comm;  // p_comm
  std::string jail;  // immediate jail's name ("0" for the host)
  RawUsage usage;
};

// Why a read failed, for the read-errors metric.
enum class ReadErrorReason : uint8_t {
  kVanished,    // the jail or process went away mid-read
  kPermission,  // EPERM / EACCES
  kParse,       // the kernel's text did not parse
  kIo,          // any other I/O error
  kUnsupported, // the host cannot give this resource
};
inline constexpr std::size_t kReadErrorReasonCount = 5;

class UsageReader {
 public:
  virtual ~UsageReader() = default;

  // The jails present now. Cheap enough to call every slow-tier tick.
  virtual absl::StatusOr<std::vector<JailRef>> ListJails() = 0;

  // Fast tier, called every tick for every jail: the cheap counters
  // (cgroup files held open and re-read, or one rctl_get_racct call).
  // Fills `out`; NotFound if the jail is gone. Must not allocate on success
  // once warmed up.
  virtual absl::Status ReadFast(const JailRef& jail, RawUsage& out) = 0;

  // Slow tier, on its own interval: per-process scans and the expensive
  // jail-wide sums. Fills `out` (resources the fast tier does not give)
  // and appends the jail's processes to `processes` when non-null.
  virtual absl::Status ReadSlow(const JailRef& jail, RawUsage& out,
                                std::vector<ProcessUsage>* processes) = 0;

  // Which resources this backend can read at all.
  virtual ResourceMask Supported() const = 0;
};

}  // namespace jailwarden::platform
