#pragma once

// A recognisable fleet for metrics tests, the promtool fixture and
// bench/metrics_bench.cc, built with fakes::SnapshotBuilder
// (tests/fakes/snapshot_builder.h), the one way tests make snapshots.
// Header-only.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fakes/snapshot_builder.h"
#include "absl/time/time.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::metrics::testing {

struct FakeJail {
  std::string name;
  int64_t jid = 0;
  rctl::UsageVector usage{};
};

// A jail whose every resource has a distinct, recognisable value: resource
// index r gets (r + 1) * 1000 + jid, except the ones tests check by name.
inline FakeJail MakeJail(std::string name, int64_t jid) {
  FakeJail j;
  j.name = std::move(name);
  j.jid = jid;
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    j.usage[r] = static_cast<int64_t>((r + 1) * 1000) + jid;
  }
  j.usage[rctl::Index(rctl::Resource::kMemoryuse)] = int64_t{64} << 20;
  j.usage[rctl::Index(rctl::Resource::kCputime)] = 12345678;    // 12.345678 s
  j.usage[rctl::Index(rctl::Resource::kWallclock)] = 60000000;  // 60 s
  j.usage[rctl::Index(rctl::Resource::kPcpu)] = 20500000;       // 20.5 %
  return j;
}

// Builds `ticks` ticks of `jails` with `b`, 100 ms apart (the first one at
// b.now() if `b` has built nothing yet), and returns the last. The tick k
// ticks before the last has every value v raised by k * (v / 10), so within
// the run a resource's peak is its oldest value. Adds the jails to `b` the
// first time it sees them (all 25 resources present); b.HistoryDepth()
// decides how many of the ticks the snapshot's history keeps.
inline std::shared_ptr<racct::Snapshot> BuildTicks(fakes::SnapshotBuilder& b,
                                                   const std::vector<FakeJail>& jails,
                                                   int ticks = 1) {
  if (!b.built()) {
    for (const FakeJail& j : jails) {
      b.Jail(j.name, j.jid);
    }
  }
  std::shared_ptr<racct::Snapshot> snap;
  for (int k = ticks - 1; k >= 0; --k) {
    if (b.built()) {
      b.Advance(absl::Milliseconds(100));
    }
    for (const FakeJail& j : jails) {
      rctl::UsageVector u = j.usage;
      for (int64_t& v : u) {
        v += v / 10 * k;
      }
      b.SetAll(j.name, u);
    }
    snap = b.Build();
  }
  return snap;
}

// Gives the latest tick of `snap` the I/O running totals `totals` (by slot;
// RateState::io_totals order), as the sampler does for a backend with
// cumulative I/O counters.
inline void SetIoTotals(racct::Snapshot& snap, std::vector<std::array<int64_t, 4>> totals) {
  auto tick = std::make_shared<racct::TickData>(*snap.tick);
  tick->io_totals = std::move(totals);
  snap.tick = std::move(tick);
}

// One snapshot of `jails` whose history holds `history_ticks` ticks, the
// last one numbered `seq` at `time`, on 2 CPUs (for bench/metrics_bench.cc).
inline std::shared_ptr<racct::Snapshot> BuildSnapshot(const std::vector<FakeJail>& jails,
                                                      uint64_t seq, absl::Time time,
                                                      int history_ticks = 1) {
  fakes::SnapshotBuilder b(time - absl::Milliseconds(100) * (history_ticks - 1));
  b.HistoryDepth(static_cast<std::size_t>(history_ticks))
      .Ncpu(2)
      .NextSeq(seq - static_cast<uint64_t>(history_ticks - 1));
  return BuildTicks(b, jails, history_ticks);
}

}  // namespace jailwarden::metrics::testing
