#pragma once

// Builds racct::Snapshots directly (they are plain data) for metrics tests,
// the promtool fixture and bench/metrics_bench.cc. Header-only.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::metrics::testing {

struct FakeJail {
  std::string name;
  int64_t jid = 0;
  rctl::UsageVector usage{};
};

// `jails` share one JailTable (`table`, built when null). History holds
// `history_ticks` ticks (oldest first, the current one last, seqs ending at
// `seq`); the tick k ticks before the current one has every value v raised
// by k * (v / 10), so a resource's peak over the ring is its oldest value.
inline std::shared_ptr<racct::Snapshot> BuildSnapshot(
    const std::vector<FakeJail>& jails, uint64_t seq, absl::Time time,
    int history_ticks = 1, std::shared_ptr<const racct::JailTable> table = nullptr) {
  if (table == nullptr) {
    auto t = std::make_shared<racct::JailTable>();
    t->generation = 1;
    for (const FakeJail& j : jails) {
      racct::JailInfo info;
      info.name = j.name;
      info.jid = j.jid;
      t->jails.push_back(info);
    }
    t->Index();
    table = t;
  }
  auto snap = std::make_shared<racct::Snapshot>();
  snap->seq = seq;
  snap->time = time;
  snap->ncpu = 2;
  for (int k = history_ticks - 1; k >= 0; --k) {
    auto tick = std::make_shared<racct::TickData>();
    tick->seq = seq - static_cast<uint64_t>(k);
    tick->time = time - absl::Milliseconds(100) * k;
    tick->jails = table;
    tick->usage.reserve(jails.size());
    for (const FakeJail& j : jails) {
      rctl::UsageVector u = j.usage;
      for (int64_t& v : u) {
        v += v / 10 * k;
      }
      tick->usage.push_back(u);
    }
    tick->present.assign(jails.size(), racct::ResourceMask().set());
    tick->stale.assign(jails.size(), 0);
    snap->history.push_back(tick);
  }
  snap->tick = snap->history.back();
  snap->slow = std::make_shared<racct::SlowData>();
  return snap;
}

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

}  // namespace jailwarden::metrics::testing
