#pragma once

// A scripted platform::UsageReader for sampler, engine, metrics and service
// tests: jails with parents, fast- and slow-tier values (plain or running
// totals), per-process rows, injected errors, jails that vanish between
// ListJails and the read, and an optional cost per read on a FakeClock.
// Header-only. Thread-safe (the sampler thread may read while a test
// scripts).
//
//   FakeUsageReader reader;
//   reader.AddJail("web", 1);
//   reader.Set("web", rctl::Resource::kMemoryuse, 1 << 20);
//   reader.SetTotal("web", rctl::Resource::kCputime, 500000);  // µs so far
//   reader.FailNextFast("web", absl::PermissionDeniedError("EPERM"));

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fakes/fake_clock.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::fakes {

class FakeUsageReader : public platform::UsageReader {
 public:
  // Jails are listed in insertion order (the sampler orders them itself).
  void AddJail(std::string name, int64_t jid, std::string parent = "") {
    absl::MutexLock lock(&mu_);
    Jail& j = jails_[name];
    j.ref.name = name;
    j.ref.jid = jid;
    j.ref.parent = std::move(parent);
    j.ref.handle = static_cast<uint64_t>(jid);
    if (std::find(order_.begin(), order_.end(), name) == order_.end()) {
      order_.push_back(std::move(name));
    }
  }
  // Gone from ListJails and NotFound on read.
  void RemoveJail(std::string_view name) {
    absl::MutexLock lock(&mu_);
    jails_.erase(std::string(name));
    order_.erase(std::remove(order_.begin(), order_.end(), name), order_.end());
  }
  // Still listed until the next ListJails, but every read says NotFound
  // (the jail died between listing and reading), then it is removed.
  void VanishOnNextRead(std::string_view name) {
    absl::MutexLock lock(&mu_);
    vanishing_.push_back(std::string(name));
  }

  // A fast-tier value taken as the kernel reports it.
  void Set(std::string_view jail, rctl::Resource r, int64_t value) {
    SetIn(jail, r, value, /*cumulative=*/false, /*slow=*/false);
  }
  // A fast-tier running total (cputime µs, I/O bytes or operations).
  void SetTotal(std::string_view jail, rctl::Resource r, int64_t total) {
    SetIn(jail, r, total, /*cumulative=*/true, /*slow=*/false);
  }
  // Adds to a fast-tier running total.
  void AddTotal(std::string_view jail, rctl::Resource r, int64_t delta) {
    absl::MutexLock lock(&mu_);
    platform::RawUsage& u = jails_[std::string(jail)].fast;
    const std::size_t i = rctl::Index(r);
    u.value[i] += delta;
    u.present[i] = true;
    u.cumulative[i] = true;
  }
  // Slow-tier values.
  void SetSlow(std::string_view jail, rctl::Resource r, int64_t value,
               bool cumulative = false) {
    SetIn(jail, r, value, cumulative, /*slow=*/true);
  }
  void Clear(std::string_view jail, rctl::Resource r) {
    absl::MutexLock lock(&mu_);
    Jail& j = jails_[std::string(jail)];
    j.fast.present[rctl::Index(r)] = false;
    j.slow.present[rctl::Index(r)] = false;
  }
  // The processes ReadSlow appends for `jail`.
  void SetProcesses(std::string_view jail,
                    std::vector<platform::ProcessUsage> processes) {
    absl::MutexLock lock(&mu_);
    jails_[std::string(jail)].processes = std::move(processes);
  }
  // A process row with plain (kernel-unit) values.
  static platform::ProcessUsage Process(
      int64_t pid, int64_t ruid, std::string comm, std::string jail,
      std::vector<std::pair<rctl::Resource, int64_t>> values = {},
      int64_t euid = -1) {
    platform::ProcessUsage p;
    p.pid = pid;
    p.ruid = ruid;
    p.euid = euid < 0 ? ruid : euid;
    p.comm = std::move(comm);
    p.jail = std::move(jail);
    for (auto [r, v] : values) {
      p.usage.value[rctl::Index(r)] = v;
      p.usage.present[rctl::Index(r)] = true;
    }
    return p;
  }

  // Error injection.
  void FailNextFast(std::string_view jail, absl::Status status) {
    absl::MutexLock lock(&mu_);
    jails_[std::string(jail)].fail_fast.push_back(std::move(status));
  }
  void FailNextSlow(std::string_view jail, absl::Status status) {
    absl::MutexLock lock(&mu_);
    jails_[std::string(jail)].fail_slow.push_back(std::move(status));
  }
  void FailNextList(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_list_.push_back(std::move(status));
  }
  // Every ReadFast advances `clock` by `cost` (tick-duration and overrun
  // tests).
  void SetReadCost(FakeClock* clock, absl::Duration cost) {
    absl::MutexLock lock(&mu_);
    clock_ = clock;
    cost_ = cost;
  }

  int fast_reads() const { absl::MutexLock lock(&mu_); return fast_reads_; }
  int slow_reads() const { absl::MutexLock lock(&mu_); return slow_reads_; }
  int list_calls() const { absl::MutexLock lock(&mu_); return list_calls_; }

  absl::StatusOr<std::vector<platform::JailRef>> ListJails() override {
    absl::MutexLock lock(&mu_);
    ++list_calls_;
    if (!fail_list_.empty()) {
      absl::Status s = fail_list_.front();
      fail_list_.erase(fail_list_.begin());
      return s;
    }
    std::vector<platform::JailRef> out;
    for (const std::string& name : order_) {
      out.push_back(jails_.at(name).ref);
    }
    return out;
  }

  absl::Status ReadFast(const platform::JailRef& jail,
                        platform::RawUsage& out) override {
    absl::MutexLock lock(&mu_);
    ++fast_reads_;
    if (clock_ != nullptr) {
      clock_->Advance(cost_);
    }
    if (absl::Status s = Common(jail.name, /*slow=*/false); !s.ok()) {
      return s;
    }
    out = jails_.at(jail.name).fast;
    return absl::OkStatus();
  }

  absl::Status ReadSlow(const platform::JailRef& jail, platform::RawUsage& out,
                        std::vector<platform::ProcessUsage>* processes) override {
    absl::MutexLock lock(&mu_);
    ++slow_reads_;
    if (absl::Status s = Common(jail.name, /*slow=*/true); !s.ok()) {
      return s;
    }
    const Jail& j = jails_.at(jail.name);
    out = j.slow;
    if (processes != nullptr) {
      processes->insert(processes->end(), j.processes.begin(),
                        j.processes.end());
    }
    return absl::OkStatus();
  }

  platform::ResourceMask Supported() const override {
    return platform::ResourceMask().set();
  }

 private:
  struct Jail {
    platform::JailRef ref;
    platform::RawUsage fast;
    platform::RawUsage slow;
    std::vector<platform::ProcessUsage> processes;
    std::vector<absl::Status> fail_fast;
    std::vector<absl::Status> fail_slow;
  };

  void SetIn(std::string_view jail, rctl::Resource r, int64_t value,
             bool cumulative, bool slow) {
    absl::MutexLock lock(&mu_);
    Jail& j = jails_[std::string(jail)];
    platform::RawUsage& u = slow ? j.slow : j.fast;
    const std::size_t i = rctl::Index(r);
    u.value[i] = value;
    u.present[i] = true;
    u.cumulative[i] = cumulative;
  }

  absl::Status Common(const std::string& name, bool slow)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto v = std::find(vanishing_.begin(), vanishing_.end(), name);
    if (v != vanishing_.end()) {
      vanishing_.erase(v);
      jails_.erase(name);
      order_.erase(std::remove(order_.begin(), order_.end(), name),
                   order_.end());
      return absl::NotFoundError("jail vanished");
    }
    auto it = jails_.find(name);
    if (it == jails_.end() ||
        std::find(order_.begin(), order_.end(), name) == order_.end()) {
      return absl::NotFoundError("no such jail");
    }
    std::vector<absl::Status>& fails = slow ? it->second.fail_slow
                                            : it->second.fail_fast;
    if (!fails.empty()) {
      absl::Status s = fails.front();
      fails.erase(fails.begin());
      return s;
    }
    return absl::OkStatus();
  }

  mutable absl::Mutex mu_;
  std::map<std::string, Jail> jails_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> vanishing_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> fail_list_ ABSL_GUARDED_BY(mu_);
  FakeClock* clock_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Duration cost_ ABSL_GUARDED_BY(mu_);
  int fast_reads_ ABSL_GUARDED_BY(mu_) = 0;
  int slow_reads_ ABSL_GUARDED_BY(mu_) = 0;
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jailwarden::fakes
