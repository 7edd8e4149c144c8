#include "jailwarden/racct/rates.h"

#include <algorithm>
#include <limits>

#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::racct {
namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// Any `new` pcpu above this already saturates every clamp (ncpu is far
// below 10^6), so clipping it first keeps the products inside int64.
constexpr int64_t kPcpuNewCeiling = int64_t{1} << 50;

}  // namespace

int IoIndex(rctl::Resource r) {
  const std::size_t i = rctl::Index(r);
  const std::size_t first = rctl::Index(rctl::Resource::kReadbps);
  if (i >= first && i < first + kIoResources.size()) {
    return static_cast<int>(i - first);
  }
  return -1;
}

int64_t NextPcpu(int64_t old_pcpu, int64_t cpu_delta_us, int64_t elapsed_us,
                 int ncpu) {
  if (elapsed_us <= 0) {
    return old_pcpu;
  }
  if (cpu_delta_us < 0) {
    cpu_delta_us = 0;
  }
  // new = Δcpu × 100 × 10^6 / elapsed, in the kernel's integer order:
  // multiply first, then divide (truncating).
  int64_t fresh;
  constexpr int64_t kScale = 100 * 1000000;
  if (cpu_delta_us > kPcpuNewCeiling / kScale) {
    fresh = kPcpuNewCeiling;
  } else {
    fresh = std::min(cpu_delta_us * kScale / elapsed_us, kPcpuNewCeiling);
  }
  const int64_t old = std::clamp<int64_t>(old_pcpu, 0, kPcpuNewCeiling);
  int64_t pcpu =
      ((kFscale - kPcpuDecayFactor) * fresh + kPcpuDecayFactor * old) / kFscale;
  const int64_t ceiling = kPcpuPerCpu * std::max(ncpu, 1);
  return std::clamp<int64_t>(pcpu, 0, ceiling);
}

int64_t ThrottleDecay(int64_t usage, int64_t m) {
  // rctl_throttle_decay (sys/kern/kern_rctl.c).
  if (usage < m) {
    return 0;
  }
  int64_t cap;
  if (__builtin_mul_overflow(m, int64_t{10}, &cap)) {
    cap = std::numeric_limits<int64_t>::max();
  }
  if (usage > cap) {
    usage = cap;
  }
  return usage - m;
}

IoMinimums Min(const IoMinimums& a, const IoMinimums& b) {
  IoMinimums out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = std::min(a[i], b[i]);
  }
  return out;
}

ThrottleMinimums ThrottleMinimums::FromRules(const rctl::RuleSet& rules) {
  return FromRules(std::span<const rctl::Rule>(rules.rules()));
}

ThrottleMinimums ThrottleMinimums::FromRules(std::span<const rctl::Rule> rules) {
  ThrottleMinimums out;
  for (const rctl::Rule& rule : rules) {
    if (rule.action != rctl::Action::kThrottle || !rule.resource.has_value()) {
      continue;
    }
    const int io = IoIndex(*rule.resource);
    if (io < 0) {
      continue;
    }
    IoMinimums* mins = nullptr;
    switch (rule.subject) {
      case rctl::SubjectType::kJail:
        mins = &out.jail.try_emplace(rule.subject_id, kNoThrottle).first->second;
        break;
      case rctl::SubjectType::kUser:
        if (auto uid = rule.SubjectNumber()) {
          mins = &out.user.try_emplace(*uid, kNoThrottle).first->second;
        }
        break;
      case rctl::SubjectType::kProcess:
        if (auto pid = rule.SubjectNumber()) {
          mins = &out.process.try_emplace(*pid, kNoThrottle).first->second;
        }
        break;
      case rctl::SubjectType::kLoginclass:
      case rctl::SubjectType::kUndefined:
        break;
    }
    if (mins != nullptr) {
      (*mins)[io] = std::min((*mins)[io], rule.amount);
    }
  }
  return out;
}

const IoMinimums& ThrottleMinimums::Jail(std::string_view name) const {
  auto it = jail.find(name);
  return it == jail.end() ? kNoThrottle : it->second;
}

const IoMinimums& ThrottleMinimums::User(int64_t uid) const {
  auto it = user.find(uid);
  return it == user.end() ? kNoThrottle : it->second;
}

const IoMinimums& ThrottleMinimums::Process(int64_t pid) const {
  auto it = process.find(pid);
  return it == process.end() ? kNoThrottle : it->second;
}

void RateState::Update(const platform::RawUsage& raw, absl::Time now,
                       bool racctd_pass, const IoMinimums& mins, int ncpu,
                       rctl::UsageVector& out,
                       platform::ResourceMask& present) {
  const bool first = !started_;
  started_ = true;

  // racctd: decay first (rctl_throttle_decay), then this tick's growth.
  if (racctd_pass && !first) {
    for (std::size_t io = 0; io < window_.size(); ++io) {
      window_[io] = ThrottleDecay(window_[io], mins[io]);
    }
  }

  constexpr std::size_t kCpu = rctl::Index(rctl::Resource::kCputime);
  constexpr std::size_t kPcpu = rctl::Index(rctl::Resource::kPcpu);
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    if (!raw.present[r]) {
      continue;
    }
    const int64_t value = raw.value[r];
    const int io = IoIndex(rctl::ResourceAt(r));
    if (io >= 0 && raw.cumulative[r]) {
      if (have_total_[io] && value >= last_total_[io]) {
        window_[io] = SaturatingAdd(window_[io], value - last_total_[io]);
      }
      last_total_[io] = value;
      have_total_[io] = true;
      out[r] = window_[io];
    } else {
      out[r] = value;
    }
    present[r] = true;
  }

  derive_pcpu_ = raw.present[kCpu] && raw.cumulative[kCpu] &&
                 !(raw.present[kPcpu] && !raw.cumulative[kPcpu]);
  if (derive_pcpu_) {
    const int64_t cpu = raw.value[kCpu];
    if (!pcpu_started_) {
      pcpu_started_ = true;
      r_runtime_ = cpu;
      r_time_ = now;
    } else if (racctd_pass) {
      const int64_t elapsed_us = absl::ToInt64Microseconds(now - r_time_);
      pcpu_ = NextPcpu(pcpu_, cpu - r_runtime_, elapsed_us, ncpu);
      r_runtime_ = cpu;
      r_time_ = now;
    }
    out[kPcpu] = pcpu_;
    present[kPcpu] = true;
  } else if (pcpu_started_ && !raw.present[kPcpu]) {
    // A reading without cputime (failed part): keep the last pcpu.
    out[kPcpu] = pcpu_;
    present[kPcpu] = true;
  }
  // I/O windows keep counting (and decaying) through readings that lack
  // them.
  for (std::size_t io = 0; io < window_.size(); ++io) {
    const std::size_t r = rctl::Index(kIoResources[io]);
    if (have_total_[io] && !raw.present[r]) {
      out[r] = window_[io];
      present[r] = true;
    }
  }
}

}  // namespace jailwarden::racct
