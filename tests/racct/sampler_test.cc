#include "jailwarden/racct/sampler.h"

#include <atomic>
#include <vector>

#include "fakes/fake_clock.h"
#include "absl/synchronization/notification.h"
#include "fakes/fake_usage_reader.h"
#include "gtest/gtest.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::racct {
namespace {

using fakes::FakeUsageReader;
using platform::ReadErrorReason;
using rctl::Resource;

constexpr std::size_t I(Resource r) { return rctl::Index(r); }

class SamplerTest : public ::testing::Test {
 protected:
  SamplerOptions Options() {
    SamplerOptions o;
    o.interval = absl::Milliseconds(100);
    o.slow_interval = absl::Seconds(1);
    o.history = absl::Seconds(1);
    o.ncpu = 2;
    return o;
  }
  std::shared_ptr<const Snapshot> Step(Sampler& s,
                                       absl::Duration d = absl::Milliseconds(100)) {
    clock_.Advance(d);
    return s.TickOnce();
  }

  FakeClock clock_;
  FakeUsageReader reader_;
};

TEST_F(SamplerTest, FirstTickReadsEveryJailParentsFirst) {
  reader_.AddJail("child", 3, "web");
  reader_.AddJail("web", 1);
  reader_.AddJail("db", 2);
  reader_.Set("web", Resource::kMemoryuse, 4096);
  reader_.Set("child", Resource::kMaxproc, 7);
  reader_.SetSlow("db", Resource::kOpenfiles, 64);
  Sampler sampler(reader_, clock_, Options());
  EXPECT_EQ(sampler.Latest(), nullptr);
  auto snap = sampler.TickOnce();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->seq, 1u);
  EXPECT_EQ(snap->time, clock_.Now());
  const JailTable& t = snap->jails();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t.jails[0].name, "db");
  EXPECT_EQ(t.jails[1].name, "web");
  EXPECT_EQ(t.jails[2].name, "child");
  EXPECT_EQ(t.jails[2].parent_slot, 1);
  EXPECT_EQ(t.jails[2].depth, 1u);
  EXPECT_EQ(t.jails[1].parent_slot, -1);
  EXPECT_EQ(*t.Find("child"), 2u);
  EXPECT_FALSE(t.Find("nope").has_value());
  EXPECT_EQ((*snap->FindJailUsage("web"))[I(Resource::kMemoryuse)], 4096);
  EXPECT_EQ(snap->usage(2)[I(Resource::kMaxproc)], 7);
  // Slow-tier value carried into the tick.
  EXPECT_EQ(snap->usage(0)[I(Resource::kOpenfiles)], 64);
  EXPECT_TRUE(snap->tick->present[0][I(Resource::kOpenfiles)]);
  EXPECT_FALSE(snap->tick->present[0][I(Resource::kMemoryuse)]);
  EXPECT_EQ(snap->health.ticks, 1u);
  EXPECT_EQ(snap->health.slow_ticks, 1u);
  EXPECT_EQ(snap->health.jails_appeared, 3u);
  EXPECT_EQ(sampler.Latest(), snap);
}

TEST_F(SamplerTest, SlowTierRunsOnItsOwnInterval) {
  reader_.AddJail("web", 1);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  for (int i = 0; i < 9; ++i) {
    Step(sampler);
  }
  EXPECT_EQ(reader_.fast_reads(), 10);
  EXPECT_EQ(reader_.slow_reads(), 1);
  EXPECT_EQ(reader_.list_calls(), 1);
  auto snap = Step(sampler);  // t = 1 s: slow deadline
  EXPECT_EQ(reader_.slow_reads(), 2);
  EXPECT_EQ(reader_.list_calls(), 2);
  EXPECT_EQ(snap->health.slow_ticks, 2u);
  EXPECT_EQ(snap->slow->seq, 11u);
}

TEST_F(SamplerTest, PcpuFromCputimeEverySecond) {
  reader_.AddJail("web", 1);
  reader_.SetTotal("web", Resource::kCputime, 0);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  std::shared_ptr<const Snapshot> snap;
  for (int i = 0; i < 10; ++i) {
    reader_.AddTotal("web", Resource::kCputime, 50000);  // 50 % of one CPU
    snap = Step(sampler);
  }
  EXPECT_EQ(snap->usage(0)[I(Resource::kCputime)], 500000);
  EXPECT_EQ(snap->usage(0)[I(Resource::kPcpu)], 35009765);
  for (int i = 0; i < 10; ++i) {
    reader_.AddTotal("web", Resource::kCputime, 50000);
    snap = Step(sampler);
  }
  EXPECT_EQ(snap->usage(0)[I(Resource::kPcpu)], 45505857);
}

TEST_F(SamplerTest, IoIsBytesInCurrentWindowWithThrottleDecay) {
  reader_.AddJail("web", 1);
  reader_.SetTotal("web", Resource::kReadbps, 0);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  std::shared_ptr<const Snapshot> snap;
  for (int i = 0; i < 9; ++i) {
    reader_.AddTotal("web", Resource::kReadbps, 1000);
    snap = Step(sampler);
  }
  EXPECT_EQ(snap->usage(0)[I(Resource::kReadbps)], 9000);
  // The running total itself, for the jail_read_bytes_total counter; no
  // cumulative reading of the other three.
  ASSERT_EQ(snap->tick->io_totals.size(), 1u);
  EXPECT_EQ(snap->tick->io_totals[0], (std::array<int64_t, 4>{9000, -1, -1, -1}));
  reader_.AddTotal("web", Resource::kReadbps, 1000);
  snap = Step(sampler);  // t = 1 s: decay to 0 first, then +1000
  EXPECT_EQ(snap->usage(0)[I(Resource::kReadbps)], 1000);

  // With a throttle rule of 5000 on the jail, the excess carries over.
  rctl::RuleSet rules;
  ASSERT_TRUE(rules.Add(*rctl::ParseRuleForAdd("jail:web:readbps:throttle=5000"))
                  .ok());
  sampler.SetRules(rules);
  for (int i = 0; i < 9; ++i) {
    reader_.AddTotal("web", Resource::kReadbps, 1000);
    snap = Step(sampler);
  }
  EXPECT_EQ(snap->usage(0)[I(Resource::kReadbps)], 10000);
  snap = Step(sampler);  // t = 2 s: 10000 - 5000
  EXPECT_EQ(snap->usage(0)[I(Resource::kReadbps)], 5000);
}

TEST_F(SamplerTest, AggregatesChildrenIntoAncestorsWhenAsked) {
  reader_.AddJail("a", 1);
  reader_.AddJail("b", 2, "a");
  reader_.AddJail("c", 3, "b");
  reader_.AddJail("d", 4, "a");
  for (auto [name, v] : {std::pair{"a", 1}, {"b", 10}, {"c", 100}, {"d", 1000}}) {
    reader_.Set(name, Resource::kMaxproc, v);
    reader_.Set(name, Resource::kMemoryuse, v);
  }
  SamplerOptions o = Options();
  o.aggregate_children[I(Resource::kMaxproc)] = true;
  Sampler sampler(reader_, clock_, o);
  auto snap = sampler.TickOnce();
  EXPECT_EQ((*snap->FindJailUsage("a"))[I(Resource::kMaxproc)], 1111);
  EXPECT_EQ((*snap->FindJailUsage("b"))[I(Resource::kMaxproc)], 110);
  EXPECT_EQ((*snap->FindJailUsage("c"))[I(Resource::kMaxproc)], 100);
  EXPECT_EQ((*snap->FindJailUsage("d"))[I(Resource::kMaxproc)], 1000);
  // Not in the mask: taken as read (the backend's value is hierarchical).
  EXPECT_EQ((*snap->FindJailUsage("a"))[I(Resource::kMemoryuse)], 1);
}

TEST_F(SamplerTest, JailsAppearAndVanishAtSlowPass) {
  reader_.AddJail("web", 1);
  Sampler sampler(reader_, clock_, Options());
  auto first = sampler.TickOnce();
  reader_.AddJail("db", 2);
  reader_.RemoveJail("web");
  // Before the slow pass, web's fast read fails NotFound: dropped now.
  auto snap = Step(sampler);
  EXPECT_EQ(snap->jail_count(), 0u);
  EXPECT_EQ(snap->health.jails_vanished_mid_tick, 1u);
  EXPECT_NE(snap->jails().generation, first->jails().generation);
  snap = Step(sampler, absl::Milliseconds(900));  // slow pass
  ASSERT_EQ(snap->jail_count(), 1u);
  EXPECT_EQ(snap->jails().jails[0].name, "db");
  EXPECT_EQ(snap->health.jails_appeared, 2u);
  EXPECT_EQ(snap->health.jails_vanished, 1u);
  // Unchanged list: same table object.
  auto next = Step(sampler, absl::Seconds(1));
  EXPECT_EQ(next->tick->jails, snap->tick->jails);
}

TEST_F(SamplerTest, JailVanishingMidTickIsDroppedAndCounted) {
  reader_.AddJail("web", 1);
  reader_.AddJail("db", 2);
  reader_.Set("db", Resource::kMemoryuse, 5);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  reader_.VanishOnNextRead("web");
  auto snap = Step(sampler);
  ASSERT_EQ(snap->jail_count(), 1u);
  EXPECT_EQ(snap->jails().jails[0].name, "db");
  EXPECT_EQ(snap->usage(0)[I(Resource::kMemoryuse)], 5);
  EXPECT_EQ(snap->health.jails_vanished, 1u);
  EXPECT_EQ(snap->health.jails_vanished_mid_tick, 1u);
  EXPECT_EQ(snap->health.read_errors[static_cast<int>(ReadErrorReason::kVanished)],
            1u);
  // The history still holds the earlier tick with both jails.
  ASSERT_EQ(snap->history.ticks(), 2u);
  std::vector<std::size_t> sizes;
  snap->history.ForEach(0, [&](const HistoryRun& run) { sizes.push_back(run.jails->size()); });
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 1}));
}

TEST_F(SamplerTest, VanishingDuringSlowTier) {
  reader_.AddJail("web", 1);
  reader_.AddJail("db", 2);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  reader_.FailNextSlow("web", absl::NotFoundError("gone"));
  auto snap = Step(sampler, absl::Seconds(1));
  ASSERT_EQ(snap->jail_count(), 1u);
  EXPECT_EQ(snap->health.jails_vanished_mid_tick, 1u);
}

TEST_F(SamplerTest, ReadErrorsByReasonKeepLastValue) {
  reader_.AddJail("web", 1);
  reader_.Set("web", Resource::kMemoryuse, 100);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  reader_.Set("web", Resource::kMemoryuse, 200);
  reader_.FailNextFast("web", absl::PermissionDeniedError("EACCES"));
  auto snap = Step(sampler);
  EXPECT_EQ(snap->usage(0)[I(Resource::kMemoryuse)], 100);
  EXPECT_EQ(snap->tick->stale[0], 1);
  reader_.FailNextFast("web", absl::InvalidArgumentError("bad text"));
  Step(sampler);
  reader_.FailNextFast("web", absl::UnavailableError("EIO"));
  Step(sampler);
  reader_.FailNextFast("web", absl::UnimplementedError("no"));
  Step(sampler);
  reader_.FailNextList(absl::UnavailableError("list"));
  snap = Step(sampler, absl::Seconds(1));
  const auto& e = snap->health.read_errors;
  EXPECT_EQ(e[static_cast<int>(ReadErrorReason::kPermission)], 1u);
  EXPECT_EQ(e[static_cast<int>(ReadErrorReason::kParse)], 1u);
  EXPECT_EQ(e[static_cast<int>(ReadErrorReason::kIo)], 1u);
  EXPECT_EQ(e[static_cast<int>(ReadErrorReason::kUnsupported)], 1u);
  EXPECT_EQ(e[static_cast<int>(ReadErrorReason::kVanished)], 0u);
  EXPECT_EQ(snap->health.list_errors, 1u);
  // The failed list keeps the known jails.
  EXPECT_EQ(snap->jail_count(), 1u);
  EXPECT_EQ(snap->usage(0)[I(Resource::kMemoryuse)], 200);
  EXPECT_EQ(snap->tick->stale[0], 0);
}

TEST_F(SamplerTest, HistoryRingAndPeakCursor) {
  reader_.AddJail("web", 1);
  Sampler sampler(reader_, clock_, Options());  // history 1 s = 11 ticks
  PeakCursor cursor;
  reader_.Set("web", Resource::kMemoryuse, 10);
  auto snap = sampler.TickOnce();
  const Peaks& p0 = cursor.Read(*snap);
  EXPECT_TRUE(p0.complete);
  EXPECT_EQ(p0.peak[0][I(Resource::kMemoryuse)], 10);
  for (int v : {50, 900, 20}) {
    reader_.Set("web", Resource::kMemoryuse, v);
    snap = Step(sampler);
  }
  const Peaks& p1 = cursor.Read(*snap);
  EXPECT_EQ(p1.from_seq, 2u);
  EXPECT_EQ(p1.to_seq, 4u);
  EXPECT_TRUE(p1.complete);
  EXPECT_EQ(p1.peak[0][I(Resource::kMemoryuse)], 900);  // not the latest 20
  // A second reader with its own cursor is unaffected by the first.
  PeakCursor other;
  EXPECT_EQ(other.Read(*snap).peak[0][I(Resource::kMemoryuse)], 900);
  // Nothing new: the current value.
  EXPECT_EQ(cursor.Read(*snap).peak[0][I(Resource::kMemoryuse)], 20);
  // Run past the ring: incomplete, covers what is left.
  reader_.Set("web", Resource::kMemoryuse, 5000);
  Step(sampler);
  reader_.Set("web", Resource::kMemoryuse, 1);
  for (int i = 0; i < 11; ++i) {
    snap = Step(sampler);
  }
  EXPECT_EQ(snap->history.ticks(), 11u);
  EXPECT_EQ(snap->history.newest_seq(), snap->seq);
  const Peaks& p2 = cursor.Read(*snap);
  EXPECT_FALSE(p2.complete);
  EXPECT_EQ(p2.peak[0][I(Resource::kMemoryuse)], 1);
  EXPECT_EQ(PeaksSince(*snap, 0).from_seq, snap->oldest_seq());
}

TEST_F(SamplerTest, PeaksFollowJailsAcrossTableChanges) {
  reader_.AddJail("web", 1);
  reader_.AddJail("db", 2);
  reader_.Set("web", Resource::kMemoryuse, 700);
  Sampler sampler(reader_, clock_, Options());
  sampler.TickOnce();
  reader_.RemoveJail("db");  // web moves from slot 1 to slot 0
  reader_.Set("web", Resource::kMemoryuse, 5);
  auto snap = Step(sampler);
  ASSERT_EQ(snap->jail_count(), 1u);
  Peaks p = PeaksSince(*snap, 0);
  EXPECT_EQ(p.peak[0][I(Resource::kMemoryuse)], 700);
}

TEST_F(SamplerTest, ProcessAndUserContainers) {
  reader_.AddJail("web", 1);
  reader_.AddJail("sub", 2, "web");
  reader_.SetProcesses(
      "web", {FakeUsageReader::Process(20, 1001, "nginx", "web",
                                       {{Resource::kMemoryuse, 300}}, 0),
              FakeUsageReader::Process(10, 1002, "sh", "web",
                                       {{Resource::kMemoryuse, 50}})});
  reader_.SetProcesses("sub", {FakeUsageReader::Process(
                                  30, 1001, "php", "sub",
                                  {{Resource::kMemoryuse, 7}})});
  Sampler sampler(reader_, clock_, Options());
  auto snap = sampler.TickOnce();
  const SlowData& slow = *snap->slow;
  ASSERT_EQ(slow.processes.size(), 3u);
  // Sorted by (jail slot, pid).
  EXPECT_EQ(slow.processes[0].pid, 10);
  EXPECT_EQ(slow.processes[1].pid, 20);
  EXPECT_EQ(slow.processes[1].euid, 0);
  EXPECT_EQ(slow.processes[1].comm, "nginx");
  EXPECT_EQ(slow.processes[2].pid, 30);
  EXPECT_EQ(slow.processes[2].jail, "sub");
  EXPECT_EQ(slow.processes[2].jail_slot, 1);
  EXPECT_EQ(slow.process_begin, (std::vector<uint32_t>{0, 2, 3}));
  ASSERT_TRUE(slow.FindProcess(30).has_value());
  EXPECT_EQ(*slow.FindProcess(30), 2u);
  EXPECT_FALSE(slow.FindProcess(31).has_value());
  ASSERT_EQ(slow.users.size(), 2u);
  auto u = slow.FindUser(1001);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(slow.users[*u].usage[I(Resource::kMemoryuse)], 307);
  EXPECT_EQ(slow.users[*u].processes, 2u);
  EXPECT_EQ(slow.users[*slow.FindUser(1002)].usage[I(Resource::kMemoryuse)], 50);
  // Fast ticks share the slow data.
  auto next = Step(sampler);
  EXPECT_EQ(next->slow, snap->slow);
}

TEST_F(SamplerTest, MeasuresTickDuration) {
  reader_.AddJail("a", 1);
  reader_.AddJail("b", 2);
  reader_.SetReadCost(&clock_, absl::Milliseconds(3));
  Sampler sampler(reader_, clock_, Options());
  auto snap = sampler.TickOnce();
  EXPECT_EQ(snap->health.last_tick_duration, absl::Milliseconds(6));
  reader_.SetReadCost(&clock_, absl::Milliseconds(1));
  snap = Step(sampler);
  EXPECT_EQ(snap->health.last_tick_duration, absl::Milliseconds(2));
  EXPECT_EQ(snap->health.max_tick_duration, absl::Milliseconds(6));
  EXPECT_EQ(snap->health.avg_tick_duration, absl::Milliseconds(4));
  // The histogram: 6 ms in (5 ms, 10 ms], 2 ms in (1 ms, 2.5 ms].
  std::array<uint64_t, kTickBucketBoundsUs.size() + 1> want{};
  want[6] = 1;
  want[4] = 1;
  EXPECT_EQ(snap->health.tick_buckets, want);
}

TEST_F(SamplerTest, ThreadTicksOnAbsoluteDeadlinesAndCountsOverruns) {
  reader_.AddJail("a", 1);
  // Each tick costs 30 ms of the fake clock: deadlines stay at start +
  // k × 100 ms (no drift).
  reader_.SetReadCost(&clock_, absl::Milliseconds(30));
  Sampler sampler(reader_, clock_, Options());
  const absl::Time start = clock_.Now();
  std::vector<absl::Time> times;
  absl::Notification done;
  std::atomic<int> seen{0};
  sampler.SetTickCallback([&](const std::shared_ptr<const Snapshot>& s) {
    if (seen.load() < 5) {
      times.push_back(s->time);
    }
    if (++seen == 5) {
      done.Notify();
    }
  });
  ASSERT_TRUE(sampler.Start().ok());
  EXPECT_EQ(sampler.Start().code(), absl::StatusCode::kFailedPrecondition);
  done.WaitForNotification();
  sampler.Stop();
  ASSERT_EQ(times.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(times[k], start + k * absl::Milliseconds(100)) << k;
  }
  EXPECT_EQ(sampler.Latest()->health.overruns, 0u);
}

TEST_F(SamplerTest, ThreadSkipsOverrunDeadlines) {
  reader_.AddJail("a", 1);
  reader_.SetReadCost(&clock_, absl::Milliseconds(250));
  Sampler sampler(reader_, clock_, Options());
  const absl::Time start = clock_.Now();
  std::vector<absl::Time> times;
  absl::Notification done;
  std::atomic<int> seen{0};
  sampler.SetTickCallback([&](const std::shared_ptr<const Snapshot>& s) {
    if (seen.load() < 3) {
      times.push_back(s->time);
    }
    if (++seen == 3) {
      done.Notify();
    }
  });
  ASSERT_TRUE(sampler.Start().ok());
  done.WaitForNotification();
  sampler.Stop();
  ASSERT_GE(times.size(), 3u);
  // Tick at 0 ends at 250 ms: 100 and 200 are missed, next at 300.
  EXPECT_EQ(times[1], start + absl::Milliseconds(300));
  EXPECT_EQ(times[2], start + absl::Milliseconds(600));
  EXPECT_GE(sampler.Latest()->health.overruns, 4u);
}

TEST(SamplerOptionsTest, Validation) {
  SamplerOptions o;
  EXPECT_TRUE(ValidateSamplerOptions(o).ok());
  o.interval = absl::Microseconds(999);
  EXPECT_EQ(ValidateSamplerOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o.interval = absl::Seconds(61);
  EXPECT_EQ(ValidateSamplerOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o.interval = absl::Seconds(60);
  o.slow_interval = absl::Seconds(60);
  EXPECT_TRUE(ValidateSamplerOptions(o).ok());
  o.slow_interval = absl::Seconds(1);
  EXPECT_EQ(ValidateSamplerOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = SamplerOptions();
  o.ncpu = 0;
  EXPECT_EQ(ValidateSamplerOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = SamplerOptions();
  o.interval = absl::Milliseconds(1);
  EXPECT_TRUE(ValidateSamplerOptions(o).ok());
  FakeClock clock;
  FakeUsageReader reader;
  SamplerOptions bad;
  bad.interval = absl::ZeroDuration();
  Sampler s(reader, clock, bad);
  EXPECT_EQ(s.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReasonOfTest, MapsStatusCodes) {
  EXPECT_EQ(ReasonOf(absl::NotFoundError("")), ReadErrorReason::kVanished);
  EXPECT_EQ(ReasonOf(absl::PermissionDeniedError("")), ReadErrorReason::kPermission);
  EXPECT_EQ(ReasonOf(absl::DataLossError("")), ReadErrorReason::kParse);
  EXPECT_EQ(ReasonOf(absl::UnimplementedError("")), ReadErrorReason::kUnsupported);
  EXPECT_EQ(ReasonOf(absl::InternalError("")), ReadErrorReason::kIo);
}

}  // namespace
}  // namespace jailwarden::racct
