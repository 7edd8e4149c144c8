// The fast path's threshold columns against a per-pair model: many jails
// (nested too), several rules per resource and per jail, usage walking
// across the amounts, slow-tier re-binds and jail-table changes in between.
// The engine must report exactly what comparing every (rule, jail) pair on
// its own reports (freebsd-rctl.md §6.7, §6.8), in check order.

#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine_fixture.h"
#include "fakes/recording_action_sink.h"
#include "fakes/snapshot_builder.h"
#include "gtest/gtest.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::engine {
namespace {

using rctl::Resource;

struct Expect {
  DecisionKind kind;
  uint32_t rule;
  std::string jail;
  int64_t usage;
  bool operator==(const Expect&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Expect& e) {
  return os << DecisionKindName(e.kind) << " rule " << e.rule << " jail "
            << e.jail << " usage " << e.usage;
}

// "j<n>" (built by appending: GCC 12 at -O3 warns, wrongly, on
// "literal" + std::string; -Wrestrict, GCC bug 105329).
std::string J(int n, std::string_view suffix = "") {
  std::string s = "j";
  s += std::to_string(n);
  s += suffix;
  return s;
}

class ColumnsModelTest : public ::testing::Test {
 protected:
  ColumnsModelTest() {
    options_.log_rate_limit = -1;  // unlimited: no rate-limit decisions
    options_.devctl_rate_limit = -1;
  }

  // Every (rule, jail) pair's decision, as the kernel's per-link loop
  // would make it, in (slot, resource, rule) order.
  std::vector<Expect> Model(const racct::Snapshot& snap) {
    std::vector<Expect> out;
    const racct::JailTable& table = snap.jails();
    for (uint32_t slot = 0; slot < table.size(); ++slot) {
      std::vector<std::tuple<std::size_t, uint32_t>> pairs;
      for (uint32_t ri = 0; ri < rules_.size(); ++ri) {
        // Applies to the subject jail and every descendant.
        bool applies = false;
        for (int32_t s = static_cast<int32_t>(slot); s >= 0;
             s = table.jails[s].parent_slot) {
          applies |= table.jails[s].name == rules_[ri].subject_id;
        }
        if (applies) {
          pairs.emplace_back(rctl::Index(*rules_[ri].resource), ri);
        }
      }
      std::sort(pairs.begin(), pairs.end());
      for (const auto& [res, ri] : pairs) {
        const rctl::Rule& r = rules_[ri];
        const std::string& jail = table.jails[slot].name;
        const int64_t u = snap.tick->usage[slot][res];
        const bool over = u > r.amount;
        bool& latched = latched_[{ri, jail}];
        if (!over) {
          latched = false;
          if (r.action == rctl::Action::kDeny && u >= r.amount) {
            out.push_back({DecisionKind::kDenyAtOrOver, ri, jail, u});
          }
          continue;
        }
        switch (r.action) {
          case rctl::Action::kDeny:
            out.push_back({DecisionKind::kDenyAtOrOver, ri, jail, u});
            break;
          case rctl::Action::kThrottle:
            out.push_back({DecisionKind::kThrottled, ri, jail, u});
            break;
          case rctl::Action::kLog:
          case rctl::Action::kDevctl:
            if (latched) {
              out.push_back({DecisionKind::kAlreadyReported, ri, jail, u});
            } else {
              latched = true;
              out.push_back({r.action == rctl::Action::kLog
                                 ? DecisionKind::kLogged
                                 : DecisionKind::kDevctlSent,
                             ri, jail, u});
            }
            break;
          default:
            ADD_FAILURE() << "action not modelled";
        }
      }
    }
    return out;
  }

  std::vector<Expect> Got(const EvaluationResult& r,
                          const racct::Snapshot& snap) {
    std::vector<Expect> out;
    for (const Decision& d : r.decisions) {
      out.push_back({d.kind, d.rule,
                     snap.jails().jails[d.target.jail_slot].name, d.usage});
    }
    return out;
  }

  fakes::SnapshotBuilder b_;
  fakes::RecordingActionSink sink_;
  EngineOptions options_;
  std::vector<rctl::Rule> rules_;
  std::map<std::pair<uint32_t, std::string>, bool> latched_;
};

TEST_F(ColumnsModelTest, EveryPairAsTheModelSaysAcrossRebinds) {
  std::mt19937_64 rng(1616);
  constexpr int kJails = 60;
  const Resource kResources[] = {Resource::kCputime,   Resource::kMemoryuse,
                                 Resource::kMaxproc,   Resource::kOpenfiles,
                                 Resource::kVmemoryuse, Resource::kNthr,
                                 Resource::kWallclock, Resource::kReadbps,
                                 Resource::kWriteiops};
  const rctl::Action kActions[] = {rctl::Action::kDeny, rctl::Action::kLog,
                                   rctl::Action::kDevctl,
                                   rctl::Action::kThrottle};
  for (int j = 0; j < kJails; ++j) {
    // Every tenth jail has a child: parent rules reach it too (§6.8).
    b_.Jail(J(j), j + 1);
    if (j % 10 == 3) {
      b_.Jail(J(j, "c"), 1000 + j, J(j));
    }
  }
  for (int j = 0; j < kJails; ++j) {
    const int n = static_cast<int>(rng() % 6);  // 0..5 rules, some repeat
    for (int k = 0; k < n; ++k) {
      rctl::Rule r;
      r.subject = rctl::SubjectType::kJail;
      r.subject_id = J(j);
      r.per = rctl::SubjectType::kJail;
      r.resource = kResources[rng() % std::size(kResources)];
      r.action = kActions[rng() % std::size(kActions)];
      if (r.action == rctl::Action::kThrottle &&
          *r.resource != Resource::kReadbps &&
          *r.resource != Resource::kWriteiops) {
        r.action = rctl::Action::kLog;  // throttle is for I/O resources
      }
      r.amount = 1000 + static_cast<int64_t>(rng() % 5);
      rules_.push_back(r);
    }
  }
  auto walk = [&] {
    for (int j = 0; j < kJails; ++j) {
      for (Resource res : kResources) {
        const int64_t v = 998 + static_cast<int64_t>(rng() % 10);
        b_.Set(J(j), res, v);
        if (j % 10 == 3) {
          b_.Set(J(j, "c"), res, v - 1);
        }
      }
    }
  };
  walk();
  auto first = b_.Build();
  Engine engine(sink_, options_);
  ASSERT_TRUE(
      engine.Compile(std::span<const rctl::Rule>(rules_), first->tick->jails)
          .ok());
  for (int tick = 0; tick < 200; ++tick) {
    if (tick % 3 != 0) {
      walk();  // some ticks repeat the usage: latches must hold
    }
    if (tick % 17 == 5) {
      b_.NewSlowPass();  // re-bind sharing the fast path
    }
    if (tick == 90) {
      b_.Jail("late", 500);  // new jail table: state carried by key
      b_.Set("late", Resource::kMemoryuse, 5);
    }
    b_.Advance(absl::Milliseconds(100));
    auto snap = b_.Build();
    const std::vector<Expect> want = Model(*snap);
    const std::vector<Expect> got = Got(engine.Evaluate(*snap), *snap);
    ASSERT_EQ(got, want) << "tick " << tick;
  }
  // Statistics agree with the model's latches.
  for (const RuleTargetStats& s : engine.Stats()) {
    EXPECT_EQ(s.latched, (latched_[{s.rule_index, s.jail}]))
        << s.rule_text << " " << s.jail;
  }
}

// A deny at or over stays reported every tick and stops the tick usage
// falls under; the same for a latched log after a slow-tier re-bind, which
// shares the fast path instead of copying it.
TEST_F(ColumnsModelTest, LatchesSurviveSlowPassRebindAndRearm) {
  b_.Jail("a", 1).Jail("b", 2);
  b_.Set("a", Resource::kMemoryuse, 2000).Set("b", Resource::kMemoryuse, 10);
  rules_ = {*rctl::ParseRuleForAdd("jail:a:memoryuse:log=1000"),
            *rctl::ParseRuleForAdd("jail:b:memoryuse:log=1000")};
  auto snap = b_.Build();
  Engine engine(sink_, options_);
  ASSERT_TRUE(
      engine.Compile(std::span<const rctl::Rule>(rules_), snap->tick->jails)
          .ok());
  EXPECT_EQ(testing::Kinds(engine.Evaluate(*snap)),
            std::vector{DecisionKind::kLogged});
  b_.NewSlowPass().Advance(absl::Milliseconds(100));
  snap = b_.Build();
  const EvaluationResult& r = engine.Evaluate(*snap);
  EXPECT_TRUE(r.rebound);
  EXPECT_EQ(testing::Kinds(r), std::vector{DecisionKind::kAlreadyReported});
  b_.Set("a", Resource::kMemoryuse, 1000).Advance(absl::Milliseconds(100));
  snap = b_.Build();
  EXPECT_TRUE(engine.Evaluate(*snap).decisions.empty());
  b_.Set("a", Resource::kMemoryuse, 1001).Advance(absl::Milliseconds(100));
  snap = b_.Build();
  EXPECT_EQ(testing::Kinds(engine.Evaluate(*snap)),
            std::vector{DecisionKind::kLogged});
  EXPECT_EQ(sink_.logs.size(), 2u);
}

}  // namespace
}  // namespace jailwarden::engine
