// events [--stats] [--interval D] (runtime.h; docs/oci.md, "events").
//
// The counters the daemon's sampler reads come from the sampler's own
// reader, platform::LinuxUsageReader (cgroup v1 or v2 as the host mounts
// them): cpu total (cputime), pids.current (nthr). What runc's stats hold
// beyond them (limits, peaks, failcnt, user/kernel split, throttling,
// memory.stat, per-device I/O) is read from the same cgroup directories
// with the shared cgroup file parsers (platform/linux/cgroup_files.h).

#include <unistd.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "oci/events.h"
#include "oci/runtime.h"
#include "oci/state.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::oci {
namespace {

using json = nlohmann::json;
using platform::kCgroupUnlimited;

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The file `name` in `dir` as text; "" when the directory has no such file
// (a controller feature the kernel lacks).
std::string Text(const std::string& dir, const char* name) {
  if (dir.empty()) {
    return "";
  }
  absl::StatusOr<std::string> t = platform::ReadFileToString(platform::JoinCgroupPath(dir, name));
  return t.ok() ? *t : "";
}

// A one-value file: its value, "max" as kNoLimit; nullopt if absent.
std::optional<uint64_t> Single(const std::string& dir, const char* name) {
  std::optional<int64_t> v = platform::ParseCgroupSingleValue(Text(dir, name));
  if (!v || *v < 0) {
    return std::nullopt;
  }
  return *v == kCgroupUnlimited ? kNoLimit : static_cast<uint64_t>(*v);
}

uint64_t Keyed(const std::string& text, std::string_view key, uint64_t scale = 1) {
  std::optional<int64_t> v = platform::FindCgroupKeyedValue(text, key);
  return v && *v > 0 ? static_cast<uint64_t>(*v) * scale : 0;
}

// Every "key value" line of a flat-keyed file (memory.stat) as runc's
// memory.raw.
json Raw(const std::string& text) {
  json raw = json::object();
  std::istringstream in(text);
  std::string key;
  while (in >> key) {
    std::optional<int64_t> v = platform::FindCgroupKeyedValue(text, key);
    std::string rest;
    std::getline(in, rest);
    if (v && *v >= 0) {
      raw[key] = static_cast<uint64_t>(*v);
    }
  }
  return raw;
}

// "MAJ:MIN" → (major, minor); false if malformed.
bool Device(const std::string& dev, uint64_t* major, uint64_t* minor) {
  size_t colon = dev.find(':');
  if (colon == std::string::npos) {
    return false;
  }
  std::optional<uint64_t> a = ParseInt<uint64_t>(dev.substr(0, colon));
  std::optional<uint64_t> b = ParseInt<uint64_t>(dev.substr(colon + 1));
  if (!a || !b) {
    return false;
  }
  *major = *a;
  *minor = *b;
  return true;
}

json Entry(uint64_t major, uint64_t minor, const std::string& op, uint64_t value) {
  return json{{"major", major}, {"minor", minor}, {"op", op}, {"value", value}};
}

// cgroup v1 blkio.throttle.io_service_bytes_recursive / io_serviced_recursive
// per device, as runc lists them ("MAJ:MIN Op N"; the closing "Total N"
// has no device and is left out).
json BlkioV1(const std::string& text) {
  json out = json::array();
  std::istringstream in(text);
  std::string dev, op, value;
  while (in >> dev) {
    if (dev == "Total") {
      in >> value;
      continue;
    }
    uint64_t major = 0, minor = 0;
    std::optional<uint64_t> v;
    if (in >> op >> value && Device(dev, &major, &minor) &&
        (v = ParseInt<uint64_t>(value))) {
      out.push_back(Entry(major, minor, op, *v));
    }
  }
  return out;
}

// cgroup v2 io.stat per device into runc's two lists (Read/Write entries of
// bytes and of operations).
void IoStatV2(const std::string& text, json* bytes, json* ops) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string dev, kv;
    uint64_t major = 0, minor = 0;
    if (!(in >> dev) || !Device(dev, &major, &minor)) {
      continue;
    }
    while (in >> kv) {
      size_t eq = kv.find('=');
      std::optional<uint64_t> v =
          eq == std::string::npos ? std::nullopt : ParseInt<uint64_t>(kv.substr(eq + 1));
      if (!v) {
        continue;
      }
      std::string key = kv.substr(0, eq);
      if (key == "rbytes") bytes->push_back(Entry(major, minor, "Read", *v));
      if (key == "wbytes") bytes->push_back(Entry(major, minor, "Write", *v));
      if (key == "rios") ops->push_back(Entry(major, minor, "Read", *v));
      if (key == "wios") ops->push_back(Entry(major, minor, "Write", *v));
    }
  }
}

json MemoryEntry(std::optional<uint64_t> usage, std::optional<uint64_t> max,
                 std::optional<uint64_t> limit, uint64_t failcnt) {
  json e = json::object();
  e["limit"] = limit.value_or(kNoLimit);
  if (usage) e["usage"] = *usage;
  if (max && *max != 0) e["max"] = *max;
  e["failcnt"] = failcnt;
  return e;
}

// runc's stats object for one container, the sampler's reader giving the
// counters it reads.
absl::StatusOr<json> Stats(const ContainerRecord& rec,
                           const platform::LinuxUsageReaderOptions& opts) {
  platform::JailInstance inst;
  inst.ref.name = rec.id;
  inst.init_pid = rec.pid;
  inst.backend_state = rec.backend_state;
  JW_ASSIGN_OR_RETURN(platform::LinuxJailPaths paths,
                      platform::LinuxJailPathsFromInstance(inst));
  JW_ASSIGN_OR_RETURN(std::unique_ptr<platform::LinuxUsageReader> reader,
                      platform::LinuxUsageReader::Create(opts));
  JW_ASSIGN_OR_RETURN(platform::JailRef ref, reader->AddJail(inst));
  platform::RawUsage usage;
  JW_RETURN_IF_ERROR(reader->ReadFast(ref, usage));
  auto value = [&](rctl::Resource r) -> std::optional<uint64_t> {
    if (!usage.present.test(rctl::Index(r)) || usage.value[rctl::Index(r)] < 0) {
      return std::nullopt;
    }
    return static_cast<uint64_t>(usage.value[rctl::Index(r)]);
  };

  const std::string& unified = paths.Cgroup("unified");
  const std::string& v1_memory = paths.Cgroup("memory");
  const std::string& v1_cpuacct = paths.Cgroup("cpuacct");
  const std::string& v1_cpu = paths.Cgroup("cpu");
  const std::string& v1_pids = paths.Cgroup("pids");
  const std::string& v1_blkio = paths.Cgroup("blkio");
  json data;

  // cpu: total from the sampler's cputime (µs), the rest in nanoseconds.
  json& cpu = data["cpu"];
  cpu["usage"]["total"] = value(rctl::Resource::kCputime).value_or(0) * 1000;
  if (!v1_cpuacct.empty()) {
    std::istringstream percpu(Text(v1_cpuacct, "cpuacct.usage_percpu"));
    json list = json::array();
    for (uint64_t ns; percpu >> ns;) list.push_back(ns);
    if (!list.empty()) cpu["usage"]["percpu"] = list;
    // cpuacct.stat counts USER_HZ ticks.
    const uint64_t tick_ns = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    std::string stat = Text(v1_cpuacct, "cpuacct.stat");
    cpu["usage"]["kernel"] = Keyed(stat, "system", tick_ns);
    cpu["usage"]["user"] = Keyed(stat, "user", tick_ns);
  } else {
    std::string stat = Text(unified, "cpu.stat");
    cpu["usage"]["kernel"] = Keyed(stat, "system_usec", 1000);
    cpu["usage"]["user"] = Keyed(stat, "user_usec", 1000);
  }
  json& thr = cpu["throttling"];
  thr = json::object();
  std::string cpu_stat = !v1_cpu.empty() ? Text(v1_cpu, "cpu.stat") : Text(unified, "cpu.stat");
  if (uint64_t p = Keyed(cpu_stat, "nr_periods")) thr["periods"] = p;
  if (uint64_t p = Keyed(cpu_stat, "nr_throttled")) thr["throttledPeriods"] = p;
  uint64_t thr_ns = !v1_cpu.empty() ? Keyed(cpu_stat, "throttled_time")
                                    : Keyed(cpu_stat, "throttled_usec", 1000);
  if (thr_ns != 0) thr["throttledTime"] = thr_ns;

  // memory: usage as the memory controller charges it (runc's meaning);
  // raw is memory.stat, where the sampler's memoryuse (RSS) comes from.
  json& mem = data["memory"];
  if (!v1_memory.empty()) {
    const std::string& d = v1_memory;
    mem["usage"] = MemoryEntry(Single(d, "memory.usage_in_bytes"),
                               Single(d, "memory.max_usage_in_bytes"),
                               Single(d, "memory.limit_in_bytes"),
                               Single(d, "memory.failcnt").value_or(0));
    if (std::optional<uint64_t> sw = Single(d, "memory.memsw.usage_in_bytes")) {
      mem["swap"] = MemoryEntry(sw, Single(d, "memory.memsw.max_usage_in_bytes"),
                                Single(d, "memory.memsw.limit_in_bytes"),
                                Single(d, "memory.memsw.failcnt").value_or(0));
    }
    std::string stat = Text(d, "memory.stat");
    mem["raw"] = Raw(stat);
    if (uint64_t cache = Keyed(stat, "total_cache")) mem["cache"] = cache;
  } else if (!unified.empty() && platform::PathExists(unified + "/memory.current")) {
    std::string events = Text(unified, "memory.events");
    std::optional<uint64_t> current = Single(unified, "memory.current");
    std::optional<uint64_t> limit = Single(unified, "memory.max");
    mem["usage"] = MemoryEntry(current, Single(unified, "memory.peak"), limit,
                               Keyed(events, "max"));
    // OCI's swap is memory+swap, as runc reports it on v2.
    std::optional<uint64_t> swap = Single(unified, "memory.swap.current");
    std::optional<uint64_t> swap_max = Single(unified, "memory.swap.max");
    if (swap && current) {
      std::optional<uint64_t> both_limit;
      if (swap_max && limit) {
        both_limit = (*swap_max == kNoLimit || *limit == kNoLimit) ? kNoLimit
                                                                   : *swap_max + *limit;
      }
      mem["swap"] = MemoryEntry(*swap + *current, std::nullopt, both_limit, 0);
    }
    std::string stat = Text(unified, "memory.stat");
    mem["raw"] = Raw(stat);
    if (uint64_t cache = Keyed(stat, "file")) mem["cache"] = cache;
  }

  // pids: current from the sampler's nthr (pids.current).
  json& pids = data["pids"];
  pids = json::object();
  if (std::optional<uint64_t> n = value(rctl::Resource::kNthr)) pids["current"] = *n;
  std::optional<uint64_t> pids_max =
      Single(!v1_pids.empty() ? v1_pids : unified, "pids.max");
  if (pids_max && *pids_max != kNoLimit) pids["limit"] = *pids_max;

  // blkio, per device.
  json& blkio = data["blkio"];
  blkio = json::object();
  json bytes = json::array(), ops = json::array();
  if (!v1_blkio.empty()) {
    bytes = BlkioV1(Text(v1_blkio, "blkio.throttle.io_service_bytes_recursive"));
    ops = BlkioV1(Text(v1_blkio, "blkio.throttle.io_serviced_recursive"));
  } else {
    IoStatV2(Text(unified, "io.stat"), &bytes, &ops);
  }
  if (!bytes.empty()) blkio["ioServiceBytesRecursive"] = bytes;
  if (!ops.empty()) blkio["ioServicedRecursive"] = ops;
  return data;
}

absl::Status StatsEvent(const GlobalOptions& g, const std::string& id, std::ostream& out) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  std::string status = StatusOf(g.root, rec);
  if (status == "stopped" || status == "creating") {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  platform::LinuxUsageReaderOptions opts;
  opts.read_sysv_ipc = false;  // the SysV counts are not part of runc's stats
  absl::StatusOr<json> data = Stats(rec, opts);
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) {  // the cgroups went with the container
      return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
    }
    return data.status();
  }
  json ev{{"type", "stats"}, {"id", id}, {"data", *data}};
  out << ev.dump() << "\n";
  out.flush();
  if (!out) {
    return absl::UnavailableError("events: standard output closed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> StatsData(const ContainerRecord& record,
                                      const platform::LinuxUsageReaderOptions& options) {
  JW_ASSIGN_OR_RETURN(json data, Stats(record, options));
  return data.dump();
}

absl::Status Events(const GlobalOptions& g, const std::string& id, bool stats_once,
                    const std::string& interval, std::ostream& out) {
  absl::Duration every = absl::Seconds(5);
  if (!interval.empty() && (!absl::ParseDuration(interval, &every) ||
                            every < absl::Milliseconds(10))) {
    return absl::InvalidArgumentError(
        StrCat("--interval '", interval, "': not a duration of at least 10ms (e.g. 5s, 500ms)"));
  }
  JW_RETURN_IF_ERROR(StatsEvent(g, id, out));
  if (stats_once) {
    return absl::OkStatus();
  }
  // Streams until the container stops (its record goes, its process exits)
  // or standard output closes; a wait is at most one interval.
  for (;;) {
    absl::SleepFor(every);
    absl::Status st = StatsEvent(g, id, out);
    if (absl::IsNotFound(st) || absl::IsFailedPrecondition(st)) {
      return absl::OkStatus();  // stopped: the stream ends, as runc's does
    }
    JW_RETURN_IF_ERROR(st);
  }
}

}  // namespace jailwarden::oci
