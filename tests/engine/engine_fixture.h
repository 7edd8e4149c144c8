#pragma once

// What the engine tests share: rule-set and decision helpers, and the
// EngineTest fixture (a SnapshotBuilder, a recording sink and an engine).

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "fakes/recording_action_sink.h"
#include "fakes/snapshot_builder.h"
#include "gtest/gtest.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::engine::testing {

// A RuleSet of `texts` in rctl_rule_add form; a bad one fails the test.
inline rctl::RuleSet Rules(std::initializer_list<const char*> texts) {
  rctl::RuleSet rules;
  for (const char* t : texts) {
    auto r = rctl::ParseRuleForAdd(t);
    EXPECT_TRUE(r.ok()) << t << ": " << r.status();
    if (r.ok()) {
      EXPECT_TRUE(rules.Add(*r).ok()) << t;
    }
  }
  return rules;
}

// The kinds of r's decisions, in order.
inline std::vector<DecisionKind> Kinds(const EvaluationResult& r) {
  std::vector<DecisionKind> out;
  for (const Decision& d : r.decisions) {
    out.push_back(d.kind);
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  // Compiles against the builder's current jails and evaluates one tick
  // 100 ms after the previous one.
  void Compile(const rctl::RuleSet& rules) {
    auto snap = b_.Build();
    ASSERT_TRUE(engine_.Compile(rules, snap->tick->jails).ok());
  }
  const EvaluationResult& Tick() {
    b_.Advance(absl::Milliseconds(100));
    last_ = b_.Build();
    return engine_.Evaluate(*last_);
  }
  const RuleTargetStats* Find(const std::vector<RuleTargetStats>& stats,
                              std::string_view rule, std::string_view jail,
                              int64_t pid = -1) {
    for (const RuleTargetStats& s : stats) {
      if (s.rule_text == rule && s.jail == jail && s.target.pid == pid) {
        return &s;
      }
    }
    return nullptr;
  }

  fakes::SnapshotBuilder b_;
  fakes::RecordingActionSink sink_;
  EngineOptions options_;
  Engine engine_{sink_, options_};
  std::shared_ptr<const racct::Snapshot> last_;
};

}  // namespace jailwarden::engine::testing
