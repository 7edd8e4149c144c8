#pragma once

// Builds racct::Snapshot values directly, for engine, metrics and API tests
// (and bench/) that want exact usage without running a Sampler: the one
// way tests make snapshots. Jails, usage and processes persist between
// Build() calls; the JailTable and SlowData objects are shared between
// consecutive snapshots until a jail or process is added or removed (as
// the real sampler does), so re-binding consumers behave as in production.
// Each snapshot's history holds the last HistoryDepth() ticks built, oldest
// first, like the sampler's ring. Header-only; thread-compatible.
//
//   fakes::SnapshotBuilder b;
//   b.Jail("web", 1).Set("web", rctl::Resource::kMemoryuse, 100);
//   auto snap = b.Build();            // seq 1 at the builder's clock
//   b.Advance(absl::Milliseconds(100)).Set("web", ..., 200);
//   snap = b.Build();                 // seq 2

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/racct/history.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::fakes {

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(absl::Time start = absl::UnixEpoch() + absl::Hours(1))
      : now_(start) {}

  SnapshotBuilder& Jail(std::string name, int64_t jid, std::string parent = "") {
    racct::JailInfo j;
    j.name = std::move(name);
    j.jid = jid;
    j.parent = std::move(parent);
    jails_.push_back(std::move(j));
    table_ = nullptr;
    return *this;
  }
  SnapshotBuilder& RemoveJail(std::string_view name) {
    jails_.erase(std::remove_if(jails_.begin(), jails_.end(),
                                [&](const racct::JailInfo& j) {
                                  return j.name == name;
                                }),
                 jails_.end());
    usage_.erase(std::string(name));
    table_ = nullptr;
    slow_ = nullptr;
    return *this;
  }
  // A jail's container value (kernel units); marks the resource present.
  SnapshotBuilder& Set(std::string_view jail, rctl::Resource r, int64_t v) {
    Usage& u = usage_[std::string(jail)];
    u.value[rctl::Index(r)] = v;
    u.present[rctl::Index(r)] = true;
    return *this;
  }
  // Every container value of a jail at once; marks all 25 present.
  SnapshotBuilder& SetAll(std::string_view jail, const rctl::UsageVector& values) {
    Usage& u = usage_[std::string(jail)];
    u.value = values;
    u.present.set();
    return *this;
  }
  SnapshotBuilder& Unset(std::string_view jail, rctl::Resource r) {
    usage_[std::string(jail)].present[rctl::Index(r)] = false;
    return *this;
  }
  // Marks the jail's usage stale (its read failed) in the ticks built from
  // now on, until called with false.
  SnapshotBuilder& Stale(std::string_view jail, bool stale = true) {
    usage_[std::string(jail)].stale = stale;
    return *this;
  }
  SnapshotBuilder& Process(int64_t pid, int64_t ruid, std::string comm,
                           std::string jail, int64_t euid = -1) {
    racct::ProcessInfo p;
    p.pid = pid;
    p.ruid = ruid;
    p.euid = euid < 0 ? ruid : euid;
    p.comm = std::move(comm);
    p.jail = std::move(jail);
    processes_[pid] = std::move(p);
    slow_ = nullptr;
    return *this;
  }
  SnapshotBuilder& RemoveProcess(int64_t pid) {
    processes_.erase(pid);
    slow_ = nullptr;
    return *this;
  }
  // A process's own value; the user containers are the sums by real uid.
  // Takes effect at the next slow pass (NewSlowPass or a process change).
  SnapshotBuilder& SetProcess(int64_t pid, rctl::Resource r, int64_t v) {
    racct::ProcessInfo& p = processes_.at(pid);
    p.usage[rctl::Index(r)] = v;
    p.present[rctl::Index(r)] = true;
    slow_ = nullptr;
    return *this;
  }
  // Forces fresh SlowData at the next Build even if nothing changed.
  SnapshotBuilder& NewSlowPass() {
    slow_ = nullptr;
    return *this;
  }
  SnapshotBuilder& Advance(absl::Duration d) {
    now_ += d;
    return *this;
  }
  // How many ticks (the new one included) each snapshot's history holds;
  // at least 1 (the default).
  SnapshotBuilder& HistoryDepth(std::size_t ticks) {
    history_depth_ = std::max<std::size_t>(ticks, 1);
    return *this;
  }
  // Snapshot::ncpu of the snapshots built from now on (default 1).
  SnapshotBuilder& Ncpu(int ncpu) {
    ncpu_ = ncpu;
    return *this;
  }
  // The next Build() gets sequence number `seq` (later ones count on).
  SnapshotBuilder& NextSeq(uint64_t seq) {
    seq_ = seq - 1;
    return *this;
  }
  absl::Time now() const { return now_; }
  // Sequence number of the last snapshot built (NextSeq() - 1 before the
  // first); built() says whether there was one.
  uint64_t seq() const { return seq_; }
  bool built() const { return built_; }

  // A new snapshot at now(). Mutable so a test may adjust what the builder
  // does not model (health counters) before publishing it.
  std::shared_ptr<racct::Snapshot> Build() {
    ++seq_;
    built_ = true;
    if (table_ == nullptr) {
      auto t = std::make_shared<racct::JailTable>();
      t->generation = ++generation_;
      // Parents first: by depth, then name (as the sampler orders them).
      std::vector<racct::JailInfo> sorted = jails_;
      auto depth = [&](const racct::JailInfo& j) {
        int d = 0;
        std::string parent = j.parent;
        while (!parent.empty() && d < 64) {
          auto it = std::find_if(jails_.begin(), jails_.end(),
                                 [&](const racct::JailInfo& x) {
                                   return x.name == parent;
                                 });
          if (it == jails_.end()) {
            break;
          }
          ++d;
          parent = it->parent;
        }
        return d;
      };
      std::stable_sort(sorted.begin(), sorted.end(),
                       [&](const racct::JailInfo& a, const racct::JailInfo& b) {
                         const int da = depth(a);
                         const int db = depth(b);
                         return da != db ? da < db : a.name < b.name;
                       });
      t->jails = std::move(sorted);
      t->Index();
      table_ = std::move(t);
      slow_ = nullptr;
    }
    if (slow_ == nullptr) {
      auto s = std::make_shared<racct::SlowData>();
      s->seq = seq_;
      s->time = now_;
      s->jails = table_;
      for (const auto& [pid, p] : processes_) {
        racct::ProcessInfo copy = p;
        auto slot = table_->Find(p.jail);
        copy.jail_slot = slot ? static_cast<int32_t>(*slot) : -1;
        s->processes.push_back(std::move(copy));
      }
      std::sort(s->processes.begin(), s->processes.end(),
                [](const racct::ProcessInfo& a, const racct::ProcessInfo& b) {
                  return a.jail_slot != b.jail_slot ? a.jail_slot < b.jail_slot
                                                    : a.pid < b.pid;
                });
      s->process_begin.assign(table_->size() + 1, 0);
      std::size_t i = 0;
      while (i < s->processes.size() && s->processes[i].jail_slot < 0) {
        ++i;
      }
      for (std::size_t slot = 0; slot <= table_->size(); ++slot) {
        while (i < s->processes.size() &&
               static_cast<std::size_t>(s->processes[i].jail_slot) < slot) {
          ++i;
        }
        s->process_begin[slot] = static_cast<uint32_t>(i);
      }
      std::map<int64_t, racct::UserInfo> users;
      for (uint32_t k = 0; k < s->processes.size(); ++k) {
        const racct::ProcessInfo& p = s->processes[k];
        s->by_pid.emplace_back(p.pid, k);
        racct::UserInfo& u = users[p.ruid];
        u.ruid = p.ruid;
        ++u.processes;
        for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
          if (p.present[r]) {
            u.usage[r] += p.usage[r];
            u.present[r] = true;
          }
        }
      }
      std::sort(s->by_pid.begin(), s->by_pid.end());
      for (auto& [ruid, u] : users) {
        s->users.push_back(u);
      }
      slow_ = std::move(s);
    }
    auto tick = std::make_shared<racct::TickData>();
    tick->seq = seq_;
    tick->time = now_;
    tick->jails = table_;
    for (const racct::JailInfo& j : table_->jails) {
      const Usage& u = usage_[j.name];
      tick->usage.push_back(u.value);
      tick->present.push_back(u.present);
      tick->stale.push_back(u.stale ? 1 : 0);
    }
    history_.push_back(tick);
    if (history_.size() > history_depth_) {
      history_.erase(history_.begin(),
                     history_.end() - static_cast<std::ptrdiff_t>(history_depth_));
    }
    auto snap = std::make_shared<racct::Snapshot>();
    snap->seq = seq_;
    snap->time = now_;
    snap->ncpu = ncpu_;
    snap->tick = tick;
    snap->slow = slow_;
    // A recorder all at full rate over the kept ticks (what the sampler
    // keeps for its newest ticks).
    racct::HistoryOptions ho;
    ho.ticks = history_depth_;
    ho.block_ticks = 10;
    ho.full_ticks = history_depth_;
    recorder_ = std::make_unique<racct::HistoryRecorder>(ho);
    for (const auto& t : history_) {
      recorder_->Append(*t);
    }
    snap->history = recorder_->view();
    return snap;
  }

 private:
  struct Usage {
    rctl::UsageVector value{};
    racct::ResourceMask present;
    bool stale = false;
  };
  absl::Time now_;
  int ncpu_ = 1;
  std::size_t history_depth_ = 1;
  std::vector<std::shared_ptr<const racct::TickData>> history_;
  std::unique_ptr<racct::HistoryRecorder> recorder_;
  uint64_t seq_ = 0;
  bool built_ = false;
  uint64_t generation_ = 1000;
  std::vector<racct::JailInfo> jails_;
  std::map<std::string, Usage> usage_;
  std::map<int64_t, racct::ProcessInfo> processes_;
  std::shared_ptr<const racct::JailTable> table_;
  std::shared_ptr<const racct::SlowData> slow_;
};

}  // namespace jailwarden::fakes
