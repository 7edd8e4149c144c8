#include "jailwarden/rctl/resource.h"

#include <strings.h>

#include <string>

namespace jailwarden::rctl {
namespace {

using U = ResourceUnit;

// racct_types[] (sys/kern/kern_racct.c) with resourcenames[]
// (sys/kern/kern_rctl.c) and rctl(8)'s descriptions.
constexpr std::array<ResourceInfo, kResourceCount> kTable = {{
    {Resource::kCputime, "cputime", "RACCT_CPU", kInMillions, U::kSeconds,
     "CPU time, in seconds"},
    {Resource::kDatasize, "datasize", "RACCT_DATA",
     kReclaimable | kInheritable | kDeniable, U::kBytes, "data size, in bytes"},
    {Resource::kStacksize, "stacksize", "RACCT_STACK",
     kReclaimable | kInheritable | kDeniable, U::kBytes, "stack size, in bytes"},
    {Resource::kCoredumpsize, "coredumpsize", "RACCT_CORE", kDeniable,
     U::kBytes, "core dump size, in bytes"},
    {Resource::kMemoryuse, "memoryuse", "RACCT_RSS", kReclaimable, U::kBytes,
     "resident set size, in bytes"},
    {Resource::kMemorylocked, "memorylocked", "RACCT_MEMLOCK",
     kReclaimable | kDeniable, U::kBytes, "locked memory, in bytes"},
    {Resource::kMaxproc, "maxproc", "RACCT_NPROC", kReclaimable | kDeniable,
     U::kCount, "number of processes"},
    {Resource::kOpenfiles, "openfiles", "RACCT_NOFILE",
     kReclaimable | kInheritable | kDeniable, U::kCount,
     "file descriptor table size"},
    {Resource::kVmemoryuse, "vmemoryuse", "RACCT_VMEM",
     kReclaimable | kInheritable | kDeniable, U::kBytes,
     "address space limit, in bytes"},
    {Resource::kPseudoterminals, "pseudoterminals", "RACCT_NPTS",
     kReclaimable | kDeniable | kSloppy, U::kCount, "number of PTYs"},
    {Resource::kSwapuse, "swapuse", "RACCT_SWAP",
     kReclaimable | kDeniable | kSloppy, U::kBytes,
     "swap space that may be reserved or used, in bytes"},
    {Resource::kNthr, "nthr", "RACCT_NTHR", kReclaimable | kDeniable,
     U::kCount, "number of threads"},
    {Resource::kMsgqqueued, "msgqqueued", "RACCT_MSGQQUEUED",
     kReclaimable | kDeniable | kSloppy, U::kCount,
     "number of queued SysV messages"},
    {Resource::kMsgqsize, "msgqsize", "RACCT_MSGQSIZE",
     kReclaimable | kDeniable | kSloppy, U::kBytes,
     "SysV message queue size, in bytes"},
    {Resource::kNmsgq, "nmsgq", "RACCT_NMSGQ",
     kReclaimable | kDeniable | kSloppy, U::kCount,
     "number of SysV message queues"},
    {Resource::kNsem, "nsem", "RACCT_NSEM", kReclaimable | kDeniable | kSloppy,
     U::kCount, "number of SysV semaphores"},
    {Resource::kNsemop, "nsemop", "RACCT_NSEMOP",
     kReclaimable | kInheritable | kDeniable, U::kCount,
     "number of SysV semaphores modified in a single semop(2) call"},
    {Resource::kNshm, "nshm", "RACCT_NSHM", kReclaimable | kDeniable | kSloppy,
     U::kCount, "number of SysV shared memory segments"},
    {Resource::kShmsize, "shmsize", "RACCT_SHMSIZE",
     kReclaimable | kDeniable | kSloppy, U::kBytes,
     "SysV shared memory size, in bytes"},
    {Resource::kWallclock, "wallclock", "RACCT_WALLCLOCK", kInMillions,
     U::kSeconds, "wallclock time, in seconds"},
    {Resource::kPcpu, "pcpu", "RACCT_PCTCPU",
     kInMillions | kDeniable | kDecaying, U::kPercent,
     "%CPU, in percents of a single CPU core"},
    {Resource::kReadbps, "readbps", "RACCT_READBPS", kDecaying,
     U::kBytesPerSecond, "filesystem reads, in bytes per second"},
    {Resource::kWritebps, "writebps", "RACCT_WRITEBPS", kDecaying,
     U::kBytesPerSecond, "filesystem writes, in bytes per second"},
    {Resource::kReadiops, "readiops", "RACCT_READIOPS", kDecaying,
     U::kOpsPerSecond, "filesystem reads, in operations per second"},
    {Resource::kWriteiops, "writeiops", "RACCT_WRITEIOPS", kDecaying,
     U::kOpsPerSecond, "filesystem writes, in operations per second"},
}};

constexpr bool TableIsIndexed() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (Index(kTable[i].resource) != i) return false;
  }
  return true;
}
static_assert(TableIsIndexed(), "resource table must be in index order");

}  // namespace

const std::array<ResourceInfo, kResourceCount>& ResourceTable() {
  return kTable;
}

const ResourceInfo& GetResourceInfo(Resource r) { return kTable[Index(r)]; }

std::string_view ResourceName(Resource r) { return kTable[Index(r)].name; }

std::optional<Resource> ParseResourceName(std::string_view name) {
  for (const ResourceInfo& info : kTable) {
    if (name.size() == info.name.size() &&
        strncasecmp(name.data(), info.name.data(), name.size()) == 0) {
      return info.resource;
    }
  }
  return std::nullopt;
}

bool HasFlag(Resource r, ResourceFlag flag) {
  return (kTable[Index(r)].flags & flag) != 0;
}

std::string_view UnitName(ResourceUnit unit) {
  switch (unit) {
    case ResourceUnit::kSeconds:
      return "seconds";
    case ResourceUnit::kBytes:
      return "bytes";
    case ResourceUnit::kCount:
      return "count";
    case ResourceUnit::kPercent:
      return "percent";
    case ResourceUnit::kBytesPerSecond:
      return "bytes per second";
    case ResourceUnit::kOpsPerSecond:
      return "operations per second";
  }
  return "";
}

}  // namespace jailwarden::rctl
