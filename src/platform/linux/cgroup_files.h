#pragma once

// Pure parsers of cgroup v1 and v2 file texts (Documentation/admin-guide/
// cgroup-v1/*.rst, cgroup-v2.rst; ../shared/reference/linux-mapping.md §1,
// §3, §10). They take text and never allocate, so the sampler's fast tier
// calls them on every tick over a reused buffer. Thread-safe (no state).

#include <cstdint>
#include <optional>
#include <string_view>

namespace jailwarden::platform {

// Value meaning "no limit" in the parsers' results ("max" in v2 files,
// -1 or PAGE_COUNTER_MAX in v1 files are reported as is).
inline constexpr int64_t kCgroupUnlimited = INT64_MAX;

// A file holding one integer ("12345\n", cpuacct.usage, pids.current,
// memory.current) or "max" (pids.max, memory.max): the value, or
// kCgroupUnlimited for "max". nullopt on anything else.
std::optional<int64_t> ParseCgroupSingleValue(std::string_view text);

// A flat-keyed file ("key value" per line: memory.stat, cpu.stat,
// pids.events, cpuacct.stat): the value of `key`, nullopt if the key is
// absent or its value is not an integer. Keys match whole words.
std::optional<int64_t> FindCgroupKeyedValue(std::string_view text,
                                            std::string_view key);

// One pass over a flat-keyed file for several keys: out[i] gets the value
// of keys[i] (nullopt if absent or not an integer). Stops once all are
// found. For memory.stat, whose interesting keys are spread over ~45 lines.
void FindCgroupKeyedValues(std::string_view text, const std::string_view* keys,
                           std::optional<int64_t>* out, std::size_t count);

// Totals over every device, in the file's unit (bytes or operations).
struct CgroupIoTotals {
  int64_t read = 0;
  int64_t write = 0;
};

// cgroup v1 blkio.throttle.io_service_bytes(_recursive) or
// io_serviced(_recursive): lines "MAJ:MIN Read|Write|Sync|Async|Discard|
// Total N" and a final "Total N". Sums Read and Write over all devices.
// nullopt if a device line is malformed.
std::optional<CgroupIoTotals> ParseBlkioThrottleTotals(std::string_view text);

// cgroup v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N
// dios=N" per device. Sums over devices: bytes (rbytes/wbytes) when
// `ops` is false, operations (rios/wios) when true. nullopt if malformed.
std::optional<CgroupIoTotals> ParseIoStatTotals(std::string_view text, bool ops);

// Both of the above in one pass over io.stat.
struct CgroupIoStat {
  CgroupIoTotals bytes;
  CgroupIoTotals ops;
};
std::optional<CgroupIoStat> ParseIoStat(std::string_view text);

// A mountinfo line's super options with the devpts "max=" option set to
// `max` (replacing one present, or appended), for remounting devpts
// without resetting its other options (the kernel's parse_mount_options
// starts from the defaults on remount). Returns false if `out_size` is too
// small. Pure; `out` is NUL-terminated.
bool DevptsOptionsWithMax(std::string_view super_options, int64_t max,
                          char* out, std::size_t out_size);

// From /proc/<pid>/mountinfo text: the super options (field after the
// fstype and source) of the last devpts mount at `mount_point`. nullopt if
// there is none.
std::optional<std::string_view> FindDevptsSuperOptions(std::string_view mountinfo,
                                                       std::string_view mount_point);

// Both option fields of the last devpts mount at `mount_point` in
// /proc/<pid>/mountinfo text: the per-mount options (field 6,
// "rw,nosuid,noexec,relatime") and the super options. Views into the text;
// nullopt if there is no such mount.
struct DevptsMountOptions {
  std::string_view mount_options;
  std::string_view super_options;
};
std::optional<DevptsMountOptions> FindDevptsMount(std::string_view mountinfo,
                                                  std::string_view mount_point);

}  // namespace jailwarden::platform
