#pragma once

// Pure parsers of /proc/<pid>/status, /proc/<pid>/stat and /proc/<pid>/io
// (proc(5)), plus the thin readers the slow tier uses (fd counting, devpts
// entry counting). The parsers take text and never allocate.
// Thread-safe (no state).

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace jailwarden::platform {

// The /proc/<pid>/status fields RCTL needs. Memory values in bytes (the
// file gives kB). A field missing from the text (kernel threads have no
// Vm* lines) stays 0.
struct ProcStatusFields {
  std::string_view name;  // "Name:" (p_comm), a view into the text
  int64_t ruid = -1, euid = -1;
  int64_t vm_size_bytes = 0;   // VmSize: vmemoryuse
  int64_t vm_lck_bytes = 0;    // VmLck: memorylocked
  int64_t vm_rss_bytes = 0;    // VmRSS: memoryuse
  int64_t vm_data_bytes = 0;   // VmData: datasize
  int64_t vm_stk_bytes = 0;    // VmStk: stacksize
  int64_t vm_swap_bytes = 0;   // VmSwap: swapuse
  int64_t threads = 0;         // Threads: nthr
};

// Parses the status text. nullopt if "Uid:" or "Threads:" is missing or a
// number does not parse (the process vanished mid-read gives empty text).
std::optional<ProcStatusFields> ParseProcStatus(std::string_view text);

// The real and effective uid from the "Uid:" line of /proc/<pid>/status
// (proc(5): real, effective, saved set, filesystem).
struct ProcStatusUids {
  int64_t ruid = -1;
  int64_t euid = -1;
  friend bool operator==(const ProcStatusUids&, const ProcStatusUids&) = default;
};

// Parses the status text for its "Uid:" line. nullopt if the line is
// missing or its first two fields are not numbers (the process vanished
// mid-read gives empty text). Allocates nothing.
std::optional<ProcStatusUids> ParseProcStatusUids(std::string_view text);

// The "NSpid:" line of /proc/<pid>/status (Linux 4.1): the process's pid
// in each pid namespace it is in, from the namespace of the procfs mount
// (the host's, for jailwarden) down to its own.
struct ProcStatusNsPid {
  int64_t outer = 0;  // first field: the pid as the reader's /proc sees it
  int64_t inner = 0;  // last field: the pid in its innermost namespace
  int levels = 0;     // number of fields (1: not in a child namespace)
};

// Parses the status text for its "NSpid:" line. nullopt if the line is
// missing or a field is not a number. Allocates nothing.
std::optional<ProcStatusNsPid> ParseProcStatusNsPid(std::string_view text);

// The /proc/<pid>/stat fields RCTL needs (proc(5) field numbers).
struct ProcStatFields {
  int64_t pid = 0;          // (1)
  std::string_view comm;    // (2) without the parentheses; may hold spaces
  char state = '?';         // (3)
  int64_t ppid = 0;         // (4)
  int64_t utime_ticks = 0;  // (14) clock ticks
  int64_t stime_ticks = 0;  // (15)
  int64_t num_threads = 0;  // (20)
  int64_t starttime_ticks = 0;  // (22) clock ticks after boot
};

// Parses the stat text; comm is found between the first '(' and the LAST
// ')' since it may contain ')' itself. nullopt if malformed.
std::optional<ProcStatFields> ParseProcStat(std::string_view text);

// /proc/<pid>/schedstat (the thread group leader's scheduler statistics,
// Documentation/scheduler/sched-stats.rst): time on a CPU in ns, time
// waiting on a run queue in ns, and how many times it was scheduled in.
// All three are 0 on kernels built without CONFIG_SCHED_INFO.
struct ProcSchedstatFields {
  uint64_t run_ns = 0;
  uint64_t wait_ns = 0;
  uint64_t timeslices = 0;
};

// Parses "RUN WAIT COUNT\n". nullopt if there are not three numbers.
// Allocates nothing.
std::optional<ProcSchedstatFields> ParseProcSchedstat(std::string_view text);

// /proc/<pid>/io.
struct ProcIoFields {
  int64_t rchar = 0, wchar = 0;
  int64_t syscr = 0, syscw = 0;
  int64_t read_bytes = 0, write_bytes = 0;  // storage layer (dirtied for writes)
  int64_t cancelled_write_bytes = 0;
};

std::optional<ProcIoFields> ParseProcIo(std::string_view text);

// Number of entries in /proc/<pid>/fd (open descriptors). NotFound if the
// process is gone, PermissionDenied without ptrace access.
absl::StatusOr<int64_t> CountProcFds(int64_t pid);

// Number of pseudoterminals in a devpts directory: entries other than
// ".", ".." and "ptmx". NotFound if the directory is gone.
absl::StatusOr<int64_t> CountDevptsEntries(const char* devpts_dir);

}  // namespace jailwarden::platform
