#pragma once

// An engine::ActionSink that records every action, for engine, service and
// metrics tests. Header-only; thread-compatible.

#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/engine/engine.h"

namespace jailwarden::fakes {

class RecordingActionSink : public engine::ActionSink {
 public:
  struct Signal {
    engine::Target target;
    std::string jail;
    int64_t pid;
    rctl::Action signal;
  };
  struct Throttle {
    engine::Target target;
    std::string jail;
    int64_t pid;
    int64_t ticks;
    absl::Duration duration;
    rctl::Resource resource;
  };

  void OnLog(std::string_view line) override { logs.emplace_back(line); }
  void OnDevctl(std::string_view line) override { devctl.emplace_back(line); }
  void OnSignal(const engine::SignalRequest& r) override {
    signals.push_back({r.target, std::string(r.jail), r.pid, r.signal});
  }
  void OnThrottle(const engine::ThrottleRequest& r) override {
    throttles.push_back({r.target, std::string(r.jail), r.pid, r.ticks,
                         r.duration, r.resource});
  }
  void Clear() {
    logs.clear();
    devctl.clear();
    signals.clear();
    throttles.clear();
  }

  std::vector<std::string> logs;
  std::vector<std::string> devctl;
  std::vector<Signal> signals;
  std::vector<Throttle> throttles;
};

}  // namespace jailwarden::fakes
