#pragma once

// The 25 RACCT resources, their kernel flags and units: the one table
// (FreeBSD sys/sys/racct.h, racct_types[] in sys/kern/kern_racct.c,
// resourcenames[] in sys/kern/kern_rctl.c; ../shared/reference/freebsd-rctl.md §2).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jailwarden::rctl {

// Values are the kernel's RACCT_* indices.
enum class Resource : uint8_t {
  kCputime = 0,
  kDatasize = 1,
  kStacksize = 2,
  kCoredumpsize = 3,
  kMemoryuse = 4,
  kMemorylocked = 5,
  kMaxproc = 6,
  kOpenfiles = 7,
  kVmemoryuse = 8,
  kPseudoterminals = 9,
  kSwapuse = 10,
  kNthr = 11,
  kMsgqqueued = 12,
  kMsgqsize = 13,
  kNmsgq = 14,
  kNsem = 15,
  kNsemop = 16,
  kNshm = 17,
  kShmsize = 18,
  kWallclock = 19,
  kPcpu = 20,
  kReadbps = 21,
  kWritebps = 22,
  kReadiops = 23,
  kWriteiops = 24,
};

inline constexpr std::size_t kResourceCount = 25;

// RACCT_* flag bits (sys/sys/racct.h).
enum ResourceFlag : uint8_t {
  kInMillions = 0x01,
  kReclaimable = 0x02,
  kInheritable = 0x04,
  kDeniable = 0x08,
  kSloppy = 0x10,
  kDecaying = 0x20,
};

// What the user-visible amount counts (rctl(8)). Kernel storage of the
// IN_MILLIONS resources is 10^6 times the user value: cputime and wallclock
// in microseconds, pcpu in percent of one CPU × 10^6.
enum class ResourceUnit : uint8_t {
  kSeconds,
  kBytes,
  kCount,
  kPercent,
  kBytesPerSecond,
  kOpsPerSecond,
};

struct ResourceInfo {
  Resource resource;
  std::string_view name;             // rctl name, lowercase ("memoryuse")
  std::string_view kernel_constant;  // "RACCT_RSS"
  uint8_t flags;                     // ResourceFlag bits, racct_types[]
  ResourceUnit unit;
  std::string_view description;      // rctl(8) wording
};

// The table, indexed by resource index. Never changes.
const std::array<ResourceInfo, kResourceCount>& ResourceTable();

constexpr std::size_t Index(Resource r) { return static_cast<std::size_t>(r); }

// Returns the resource with that index; `index` must be < kResourceCount.
constexpr Resource ResourceAt(std::size_t index) {
  return static_cast<Resource>(index);
}

const ResourceInfo& GetResourceInfo(Resource r);
std::string_view ResourceName(Resource r);

// Case-insensitive lookup of an rctl resource name (strcasecmp, as the
// kernel). Returns nullopt for an unknown name.
std::optional<Resource> ParseResourceName(std::string_view name);

bool HasFlag(Resource r, ResourceFlag flag);
inline bool IsInMillions(Resource r) { return HasFlag(r, kInMillions); }
inline bool IsReclaimable(Resource r) { return HasFlag(r, kReclaimable); }
inline bool IsInheritable(Resource r) { return HasFlag(r, kInheritable); }
inline bool IsDeniable(Resource r) { return HasFlag(r, kDeniable); }
inline bool IsSloppy(Resource r) { return HasFlag(r, kSloppy); }
inline bool IsDecaying(Resource r) { return HasFlag(r, kDecaying); }

std::string_view UnitName(ResourceUnit unit);  // "seconds", "bytes", ...

// Usage of one container in kernel units, indexed by resource index
// (cputime and wallclock in µs, pcpu in percent × 10^6, the rest as rctl(8)
// shows them).
using UsageVector = std::array<int64_t, kResourceCount>;

}  // namespace jailwarden::rctl
