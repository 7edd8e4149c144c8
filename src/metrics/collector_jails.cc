// Per-jail families: jail_num, jail_id, the 25 usage families
// (jail_exporter's names), staleness, peaks and lifecycle state.

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "jailwarden/metrics/collector.h"
#include "jailwarden/metrics/names.h"
#include "metrics/text_format.h"

namespace jailwarden::metrics {
namespace {

using text::AppendFamilyHeader;
using text::AppendInt;
using text::AppendKernelValue;
using text::AppendLabel;
using text::BeginSample;
using text::SampleUint;

bool IsPresent(const racct::TickData& tick, std::size_t slot, std::size_t r) {
  // A tick without presence masks (tests, old data) counts as all present.
  return tick.present.size() != tick.usage.size() || tick.present[slot].test(r);
}

}  // namespace

void MetricsCollector::RefreshJailLabels(
    const std::shared_ptr<const racct::JailTable>& table) {
  // Holding the table keeps its address from being reused by a later table
  // while the address keys the cache.
  if (labels_table_hold_ == table && jail_labels_.size() == table->size()) {
    return;
  }
  labels_table_hold_ = table;
  labels_table_ = table.get();
  jail_labels_.resize(table->size());
  for (std::size_t s = 0; s < table->size(); ++s) {
    jail_labels_[s].clear();
    AppendLabel(jail_labels_[s], "name", table->jails[s].name);
  }
}

void MetricsCollector::RenderJailFamilies(std::string& out, const racct::Snapshot* snap) {
  AppendFamilyHeader(out, "jail_num", "Number of jails the sampler reads.", "gauge");
  SampleUint(out, "jail_num", "", snap == nullptr ? 0 : snap->jail_count());
  if (snap == nullptr) {
    return;
  }
  const racct::TickData& tick = *snap->tick;
  RefreshJailLabels(tick.jails);
  const std::size_t jails = std::min(tick.usage.size(), jail_labels_.size());

  AppendFamilyHeader(out, "jail_id", "Jail ID (JID) of the jail, as the value.", "gauge");
  for (std::size_t s = 0; s < jails; ++s) {
    BeginSample(out, "jail_id", jail_labels_[s]);
    AppendInt(out, tick.jails->jails[s].jid);
    out.push_back('\n');
  }

  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const UsageFamily& family = UsageFamilyOf(rctl::ResourceAt(r));
    AppendFamilyHeader(out, family.name, family.help, family.type);
    for (std::size_t s = 0; s < jails; ++s) {
      if (!IsPresent(tick, s, r)) {
        continue;
      }
      BeginSample(out, family.name, jail_labels_[s]);
      AppendKernelValue(out, tick.usage[s][r], family.in_millions);
      out.push_back('\n');
    }
  }

  // Counters beside jail_exporter's per-second gauges, so rate() works:
  // the backend's running I/O totals (Linux cgroup io/blkio statistics);
  // absent where the backend gives only rates (FreeBSD).
  static constexpr std::string_view kIoCounters[4][2] = {
      {"jail_read_bytes_total", "Bytes the jail's processes read from block devices."},
      {"jail_write_bytes_total", "Bytes the jail's processes wrote to block devices."},
      {"jail_read_ops_total", "Read operations the jail's processes issued to block devices."},
      {"jail_write_ops_total", "Write operations the jail's processes issued to block devices."},
  };
  const bool have_io = tick.io_totals.size() == tick.usage.size();
  for (std::size_t io = 0; io < 4; ++io) {
    AppendFamilyHeader(out, kIoCounters[io][0], kIoCounters[io][1], "counter");
    for (std::size_t s = 0; have_io && s < jails; ++s) {
      if (tick.io_totals[s][io] < 0) {
        continue;
      }
      BeginSample(out, kIoCounters[io][0], jail_labels_[s]);
      AppendInt(out, tick.io_totals[s][io]);
      out.push_back('\n');
    }
  }

  AppendFamilyHeader(out, "jailwarden_jail_usage_stale",
                     "1 if the jail's last read failed and its usage repeats the last good "
                     "reading.",
                     "gauge");
  for (std::size_t s = 0; s < jails; ++s) {
    BeginSample(out, "jailwarden_jail_usage_stale", jail_labels_[s]);
    out.push_back(s < tick.stale.size() && tick.stale[s] != 0 ? '1' : '0');
    out.push_back('\n');
  }
}

void MetricsCollector::RenderPeaks(std::string& out, const racct::Snapshot& snap) {
  const racct::Peaks& peaks = peak_cursor_.Read(snap);
  const racct::JailTable* table = peaks.jails.get();
  const bool cached = table == labels_table_;
  std::string& labels = scratch_key_;
  std::string name;
  // One family per unit (jailwarden_jail_usage_peak_bytes, ..._percent, ...).
  for (const Unit unit : kUnits) {
    if (unit == Unit::kSeconds) {
      continue;  // cputime and wallclock are counters: no peaks
    }
    name.assign("jailwarden_jail_usage_peak");
    name.append(UnitSuffix(unit));
    AppendFamilyHeader(out, name,
                       "Highest usage since the previous scrape (sampler history), in the "
                       "family's unit.",
                       "gauge");
    if (table == nullptr) {
      continue;
    }
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      const rctl::Resource resource = rctl::ResourceAt(r);
      if (resource == rctl::Resource::kCputime || resource == rctl::Resource::kWallclock ||
          UnitOf(resource) != unit) {
        continue;  // counters: the peak is the latest value
      }
      const UsageFamily& family = UsageFamilyOf(resource);
      const std::size_t n = std::min(table->size(), peaks.peak.size());
      for (std::size_t s = 0; s < n; ++s) {
        if (table->jails[s].name.empty()) {
          continue;
        }
        if ((cached && !IsPresent(*snap.tick, s, r)) ||
            peaks.peak[s][r] == std::numeric_limits<int64_t>::min()) {
          continue;  // not read, or no tick of this jail in the range
        }
        labels.clear();
        if (cached) {
          labels.append(jail_labels_[s]);
        } else {
          AppendLabel(labels, "name", table->jails[s].name);
        }
        labels.append(",resource=\"");
        labels.append(rctl::ResourceName(resource));
        labels.push_back('"');
        BeginSample(out, name, labels);
        AppendKernelValue(out, peaks.peak[s][r], family.in_millions);
        out.push_back('\n');
      }
    }
  }
}

void MetricsCollector::RenderJailStatus(std::string& out) {
  if (!sources_.jails) {
    return;
  }
  const std::vector<JailStatus> jails = sources_.jails();
  AppendFamilyHeader(out, "jailwarden_jail_state",
                     "1 for the jail's current lifecycle state (one series per jail).",
                     "gauge");
  for (const JailStatus& j : jails) {
    out.append("jailwarden_jail_state{");
    AppendLabel(out, "name", j.name);
    out.push_back(',');
    AppendLabel(out, "state", j.state);
    out.append("} 1\n");
  }
  AppendFamilyHeader(out, "jailwarden_jail_expected_running",
                     "1 if the policy says the jail should be running now.", "gauge");
  for (const JailStatus& j : jails) {
    out.append("jailwarden_jail_expected_running{");
    AppendLabel(out, "name", j.name);
    out.append(j.expected_running ? "} 1\n" : "} 0\n");
  }
  AppendFamilyHeader(out, "jailwarden_jail_healthy",
                     "1 if the jail's health check passes, 0 while starting or unhealthy; "
                     "absent for a jail without a healthcheck.",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.healthy.has_value()) continue;
    out.append("jailwarden_jail_healthy{");
    AppendLabel(out, "name", j.name);
    out.append(*j.healthy ? "} 1\n" : "} 0\n");
  }
  AppendFamilyHeader(out, "jailwarden_jail_oom_kills_total",
                     "Processes of the jail killed by the kernel's OOM killer since the "
                     "jail started (sampled once a second).",
                     "counter");
  for (const JailStatus& j : jails) {
    if (!j.oom_kills.has_value()) continue;
    out.append("jailwarden_jail_oom_kills_total{");
    AppendLabel(out, "name", j.name);
    out.append("} ");
    out.append(std::to_string(*j.oom_kills));
    out.push_back('\n');
  }
  AppendFamilyHeader(out, "jailwarden_policy_drift",
                     "Rules the policy gives the jail that are not in force (removed at "
                     "runtime); `jailwarden apply` restores them.",
                     "gauge");
  for (const JailStatus& j : jails) {
    out.append("jailwarden_policy_drift{");
    AppendLabel(out, "name", j.name);
    out.append("} ");
    out.append(std::to_string(j.policy_drift));
    out.push_back('\n');
  }
  AppendFamilyHeader(out, "jailwarden_jail_start_time_seconds",
                     "Unix time the jail last started, in seconds.", "gauge");
  for (const JailStatus& j : jails) {
    if (!j.start_time.has_value()) {
      continue;
    }
    out.append("jailwarden_jail_start_time_seconds{");
    AppendLabel(out, "name", j.name);
    out.append("} ");
    text::AppendUnixSeconds(out, *j.start_time);
    out.push_back('\n');
  }
  RenderJailMain(out, jails);
  RenderJailIsolation(out, jails);
}

// Issue 13: the isolation layers of every running jail that reports them,
// the seccomp filter's relaxations, and the disk quota with its usage.
// Label values are names from fixed sets (layers, groups, mechanisms) or
// system call names, never text.
void MetricsCollector::RenderJailIsolation(std::string& out,
                                           const std::vector<JailStatus>& jails) {
  const auto sample = [&out](std::string_view family, const JailStatus& j,
                             std::initializer_list<std::pair<std::string_view, std::string_view>>
                                 labels,
                             uint64_t value) {
    out.append(family);
    out.push_back('{');
    AppendLabel(out, "name", j.name);
    for (const auto& [k, v] : labels) {
      out.push_back(',');
      AppendLabel(out, k, v);
    }
    out.append("} ");
    out.append(std::to_string(value));
    out.push_back('\n');
  };
  AppendFamilyHeader(out, "jailwarden_jail_isolation",
                     "1 if the isolation layer is in force for the running jail, 0 if it is "
                     "off or relaxed (layer: seccomp, userns, keyring, cgroup_ro, "
                     "masked_paths, disk_quota).",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.isolation.has_value()) continue;
    for (const platform::IsolationLayer& l : j.isolation->layers) {
      sample("jailwarden_jail_isolation", j, {{"layer", l.layer}}, l.on ? 1 : 0);
    }
  }
  AppendFamilyHeader(out, "jailwarden_jail_seccomp_relaxed",
                     "1 for each group of system calls an allow.* parameter lets through the "
                     "jail's seccomp filter (group: mount, time, quotas).",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.isolation.has_value()) continue;
    for (const std::string& g : j.isolation->seccomp_relaxed) {
      sample("jailwarden_jail_seccomp_relaxed", j, {{"group", g}}, 1);
    }
  }
  AppendFamilyHeader(out, "jailwarden_jail_seccomp_syscall",
                     "1 for each system call linux.seccomp takes off the jail's filter "
                     "(action allow) or adds to it (action deny).",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.isolation.has_value()) continue;
    for (const std::string& n : j.isolation->seccomp_allow) {
      sample("jailwarden_jail_seccomp_syscall", j, {{"syscall", n}, {"action", "allow"}}, 1);
    }
    for (const std::string& n : j.isolation->seccomp_deny) {
      sample("jailwarden_jail_seccomp_syscall", j, {{"syscall", n}, {"action", "deny"}}, 1);
    }
  }
  AppendFamilyHeader(out, "jailwarden_jail_disk_quota_bytes",
                     "The linux.disk_quota limit on the jail's writable layer, in bytes "
                     "(mechanism: ext4_project, xfs_project).",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.isolation.has_value() || !j.isolation->disk_quota.has_value()) continue;
    const platform::DiskQuotaStatus& q = *j.isolation->disk_quota;
    sample("jailwarden_jail_disk_quota_bytes", j, {{"mechanism", q.mechanism}}, q.limit_bytes);
  }
  AppendFamilyHeader(out, "jailwarden_jail_disk_quota_used_bytes",
                     "Bytes the jail's writable layer uses against its disk quota; absent when "
                     "the quota's usage cannot be read.",
                     "gauge");
  for (const JailStatus& j : jails) {
    if (!j.isolation.has_value() || !j.isolation->disk_quota.has_value()) continue;
    const platform::DiskQuotaStatus& q = *j.isolation->disk_quota;
    if (!q.used_bytes.has_value()) continue;
    sample("jailwarden_jail_disk_quota_used_bytes", j, {{"mechanism", q.mechanism}},
           *q.used_bytes);
  }
}

// Issue 17: the supervised main process of the jails that have one.
void MetricsCollector::RenderJailMain(std::string& out, const std::vector<JailStatus>& jails) {
  struct Family {
    const char* name;
    const char* help;
    const char* type;
    int64_t (*value)(const JailStatus::Main&);
  };
  static constexpr Family kFamilies[] = {
      {"jailwarden_jail_main_running", "1 while the jail's main process (command:) runs.",
       "gauge", [](const JailStatus::Main& m) -> int64_t { return m.running ? 1 : 0; }},
      {"jailwarden_jail_main_restarts_total",
       "Times the jail's main process was started again after it exited.", "counter",
       [](const JailStatus::Main& m) -> int64_t { return m.restarts; }},
      {"jailwarden_jail_main_last_exit_code",
       "Exit code of the main process's last exit; -1 when none or killed by a signal.",
       "gauge", [](const JailStatus::Main& m) -> int64_t { return m.last_exit_code; }},
      {"jailwarden_jail_main_last_exit_signal",
       "Signal that ended the main process last; 0 when none.", "gauge",
       [](const JailStatus::Main& m) -> int64_t { return m.last_exit_signal; }},
  };
  for (const Family& f : kFamilies) {
    AppendFamilyHeader(out, f.name, f.help, f.type);
    for (const JailStatus& j : jails) {
      if (!j.main.has_value()) {
        continue;
      }
      out.append(f.name);
      out.push_back('{');
      AppendLabel(out, "name", j.name);
      out.append("} ");
      out.append(std::to_string(f.value(*j.main)));
      out.push_back('\n');
    }
  }
}

}  // namespace jailwarden::metrics
