#include "jailwarden/racct/snapshot.h"

#include <algorithm>
#include <limits>

namespace jailwarden::racct {

std::optional<uint32_t> JailTable::Find(std::string_view name) const {
  auto it = std::lower_bound(
      by_name.begin(), by_name.end(), name,
      [](const std::pair<std::string, uint32_t>& e, std::string_view n) {
        return std::string_view(e.first) < n;
      });
  if (it == by_name.end() || it->first != name) {
    return std::nullopt;
  }
  return it->second;
}

void JailTable::Index() {
  by_name.clear();
  by_name.reserve(jails.size());
  for (uint32_t slot = 0; slot < jails.size(); ++slot) {
    by_name.emplace_back(jails[slot].name, slot);
  }
  std::sort(by_name.begin(), by_name.end());
  for (JailInfo& jail : jails) {
    jail.parent_slot = -1;
    jail.depth = 0;
    if (jail.parent.empty()) {
      continue;
    }
    if (auto p = Find(jail.parent)) {
      jail.parent_slot = static_cast<int32_t>(*p);
    }
  }
  // Parents come first, so one forward pass gives every depth.
  for (JailInfo& jail : jails) {
    if (jail.parent_slot >= 0) {
      jail.depth = jails[jail.parent_slot].depth + 1;
    }
  }
}

std::optional<uint32_t> SlowData::FindProcess(int64_t pid) const {
  auto it = std::lower_bound(
      by_pid.begin(), by_pid.end(), pid,
      [](const std::pair<int64_t, uint32_t>& e, int64_t p) { return e.first < p; });
  if (it == by_pid.end() || it->first != pid) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<uint32_t> SlowData::FindUser(int64_t ruid) const {
  auto it = std::lower_bound(
      users.begin(), users.end(), ruid,
      [](const UserInfo& u, int64_t r) { return u.ruid < r; });
  if (it == users.end() || it->ruid != ruid) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(it - users.begin());
}

const rctl::UsageVector* Snapshot::FindJailUsage(std::string_view name) const {
  if (tick == nullptr) {
    return nullptr;
  }
  auto slot = tick->jails->Find(name);
  if (!slot) {
    return nullptr;
  }
  return &tick->usage[*slot];
}

Peaks PeaksSince(const Snapshot& snap, uint64_t since_seq) {
  Peaks out;
  out.to_seq = snap.seq;
  if (snap.tick == nullptr) {
    return out;
  }
  out.jails = snap.tick->jails;
  const JailTable& table = *out.jails;
  rctl::UsageVector lowest;
  lowest.fill(std::numeric_limits<int64_t>::min());
  out.peak.assign(table.size(), lowest);
  out.complete = snap.oldest_seq() <= since_seq + 1;
  out.from_seq = std::max(since_seq + 1, snap.oldest_seq());

  bool any = false;
  snap.history.ForEach(since_seq, [&](const HistoryRun& run) {
    any = true;
    const bool same = run.jails == out.jails.get() ||
                      run.jails->generation == table.generation;
    if (same) {
      for (std::size_t s = 0; s < table.size() && s < run.rows.size(); ++s) {
        for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
          out.peak[s][r] = std::max(out.peak[s][r], run.rows[s][r]);
        }
      }
      return;
    }
    // Another jail set: match by name (rare; only after jails changed).
    const JailTable& old = *run.jails;
    for (std::size_t s = 0; s < old.size() && s < run.rows.size(); ++s) {
      auto now_slot = table.Find(old.jails[s].name);
      if (!now_slot) {
        continue;
      }
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        out.peak[*now_slot][r] =
            std::max(out.peak[*now_slot][r], run.rows[s][r]);
      }
    }
  });
  if (!any) {
    // Nothing new since the last read: the peak is the current value.
    out.from_seq = snap.seq;
    out.peak = snap.tick->usage;
  }
  return out;
}

const Peaks& PeakCursor::Read(const Snapshot& snap) {
  peaks_ = PeaksSince(snap, last_seq_);
  last_seq_ = snap.seq;
  return peaks_;
}

platform::ReadErrorReason ReasonOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return platform::ReadErrorReason::kVanished;
    case absl::StatusCode::kPermissionDenied:
      return platform::ReadErrorReason::kPermission;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
      return platform::ReadErrorReason::kParse;
    case absl::StatusCode::kUnimplemented:
      return platform::ReadErrorReason::kUnsupported;
    default:
      return platform::ReadErrorReason::kIo;
  }
}

}  // namespace jailwarden::racct
