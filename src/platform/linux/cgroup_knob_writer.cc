#include "platform/linux/cgroup_knob_writer.h"

#include <algorithm>
#include <optional>

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/resource.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/resource_map.h"

namespace jailwarden::platform {
namespace {

using rctl::Resource;

// The knobs' rows in the resource map, in CgroupLimits::io order for I/O.
const LinuxResourceRow& Memory() { return LinuxResource(Resource::kMemoryuse); }
const LinuxResourceRow& Swap() { return LinuxResource(Resource::kSwapuse); }
const LinuxResourceRow& Pids() { return LinuxResource(Resource::kNthr); }
const LinuxResourceRow& Cpu() { return LinuxResource(Resource::kPcpu); }
const std::array<const LinuxResourceRow*, 4>& IoRows() {
  static const std::array<const LinuxResourceRow*, 4> rows = {
      &LinuxResource(Resource::kReadbps), &LinuxResource(Resource::kWritebps),
      &LinuxResource(Resource::kReadiops), &LinuxResource(Resource::kWriteiops)};
  return rows;
}

// Writes `value` to dir/file when the file exists; when it does not, fails
// only if a limit is wanted (`needed`).
absl::Status WriteKnob(const std::string& dir, std::string_view file, std::string_view value,
                       bool needed) {
  if (dir.empty()) {
    if (needed) {
      return absl::FailedPreconditionError(
          StrCat("the jail has no cgroup for ", file, ", cannot enforce it"));
    }
    return absl::OkStatus();
  }
  std::string path = JoinCgroupPath(dir, file);
  if (!PathExists(path)) {
    if (needed) {
      return absl::FailedPreconditionError(
          StrCat(path, " does not exist (controller not enabled?)"));
    }
    return absl::OkStatus();
  }
  return WriteFileString(path, value);
}

// Whether a value read back from a knob says `want`. Memory amounts are
// kept in pages by the kernel; anything from 2^52 bytes up means "no
// limit" on every kernel (v1 shows PAGE_COUNTER_MAX pages).
bool SameLimit(std::optional<int64_t> found, int64_t want, bool pages) {
  constexpr int64_t kHuge = int64_t{1} << 52;
  if (!found.has_value()) {
    return false;
  }
  if (want >= kHuge) {
    return *found >= kHuge;
  }
  return *found == (pages ? want / kCgroupPageBytes * kCgroupPageBytes : want);
}

}  // namespace

absl::StatusOr<std::string> FileKnobReader::Read(const std::string& path) {
  return ReadFileToString(path);
}

namespace {

// Collects Check's findings and its first read error.
class KnobChecker {
 public:
  KnobChecker(KnobReader& reader, std::vector<LimitDrift>* out) : reader_(reader), out_(out) {}

  // The text of dir/file, or nullopt (missing file: skipped; another error
  // kept for status()).
  std::optional<std::string> Read(const std::string& dir, std::string_view file) {
    if (dir.empty()) {
      return std::nullopt;
    }
    std::string path = JoinCgroupPath(dir, file);
    absl::StatusOr<std::string> text = reader_.Read(path);
    if (!text.ok()) {
      if (!absl::IsNotFound(text.status()) && first_.ok()) {
        first_ = text.status();
      }
      return std::nullopt;
    }
    return *std::move(text);
  }

  void Drift(const LinuxResourceRow& row, const std::string& dir, std::string_view file,
             std::string_view found, std::string want) {
    std::string f(StripWhitespace(found).substr(0, 64));
    out_->push_back(LimitDrift{std::string(rctl::ResourceName(row.resource)),
                               JoinCgroupPath(dir, file), std::move(f), std::move(want),
                               false});
  }

  // A single-value knob (memory, pids): drift unless it says `want`.
  void Single(const LinuxResourceRow& row, const std::string& dir, std::string_view file,
              int64_t want, bool pages) {
    std::optional<std::string> text = Read(dir, file);
    if (text && !SameLimit(ParseCgroupSingleValue(*text), want, pages)) {
      Drift(row, dir, file, *text, StrCat(want));
    }
  }

  absl::Status status() const { return first_; }

 private:
  KnobReader& reader_;
  std::vector<LimitDrift>* out_;
  absl::Status first_;
};

// The value for `key` in a "MAJ:MIN key=value ..." or "MAJ:MIN value"
// line of `text` for device `dev` ("max" = kCgroupUnlimited); nullopt when
// the device or key is absent.
std::optional<int64_t> DeviceValue(std::string_view text, std::string_view dev,
                                   std::string_view key) {
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> fields = SplitWhitespace(line);
    if (fields.empty() || fields[0] != dev) {
      continue;
    }
    for (std::size_t i = 1; i < fields.size(); ++i) {
      std::string_view f = fields[i];
      if (key.empty()) {
        return ParseCgroupSingleValue(f);
      }
      if (StartsWith(f, key) && f.size() > key.size() && f[key.size()] == '=') {
        return ParseCgroupSingleValue(f.substr(key.size() + 1));
      }
    }
  }
  return std::nullopt;
}

// Where a v1 I/O throttle goes: v1 blk-throttle is not hierarchical (a
// limit on a cgroup does not reach its children; only the v2 tree's is),
// so it must be on the leaf the jail's processes are in (cgroup.h).
std::string V1ThrottleDir(const LinuxJailPaths& p, std::string_view controller) {
  const std::string& dir = p.Cgroup(controller);
  return dir.empty() || p.leaf.empty() ? dir : JoinCgroupPath(dir, p.leaf);
}

std::string V1Value(int64_t v) { return v == kNoLinuxLimit ? "-1" : StrCat(v); }
std::string V2Value(int64_t v) { return v == kNoLinuxLimit ? "max" : StrCat(v); }

class LinuxCgroupV1KnobWriter final : public CgroupKnobWriter {
 public:
  using CgroupKnobWriter::Check;
  std::string_view version() const override { return "v1"; }
  bool swap_needs_memory_limit() const override { return true; }

  absl::Status Write(const LinuxJailPaths& p, const CgroupLimits& d, const CgroupLimits& before,
                     const std::vector<std::string>& devices) const override {
    const std::string& mem = p.Cgroup(Memory().cgroup_v1_controller);
    const std::string_view memsw = Swap().cgroup_v1_knob;
    // memsw must stay >= limit_in_bytes at every step: open it up first.
    if (!mem.empty() && PathExists(JoinCgroupPath(mem, memsw))) {
      JW_RETURN_IF_ERROR(WriteKnob(mem, memsw, "-1", false));
    }
    JW_RETURN_IF_ERROR(WriteKnob(mem, Memory().cgroup_v1_knob, V1Value(d.memory_bytes),
                                 d.memory_bytes != kNoLinuxLimit));
    // swapuse on v1 can only be expressed as memory+swap.
    if (d.swap_bytes != kNoLinuxLimit && d.memory_bytes != kNoLinuxLimit) {
      JW_RETURN_IF_ERROR(WriteKnob(mem, memsw, StrCat(d.memory_bytes + d.swap_bytes), true));
    }
    // pids.max takes "max", as on v2.
    JW_RETURN_IF_ERROR(WriteKnob(p.Cgroup(Pids().cgroup_v1_controller), Pids().cgroup_v1_knob,
                                 V2Value(d.pids), d.pids != kNoLinuxLimit));
    const std::string& cpu = p.Cgroup(Cpu().cgroup_v1_controller);
    int64_t period = 100000;
    if (!cpu.empty()) {
      if (absl::StatusOr<std::string> t =
              ReadFileToString(JoinCgroupPath(cpu, "cpu.cfs_period_us"));
          t.ok()) {
        period = ParseCgroupSingleValue(*t).value_or(100000);
      }
    }
    JW_RETURN_IF_ERROR(
        WriteKnob(cpu, Cpu().cgroup_v1_knob,
                  d.pcpu == kNoLinuxLimit ? "-1" : StrCat(CfsQuotaUs(d.pcpu, period)),
                  d.pcpu != kNoLinuxLimit));
    for (const std::string& dev : devices) {
      for (std::size_t i = 0; i < d.io.size(); ++i) {
        if (d.io[i] == kNoLinuxLimit && before.io[i] == kNoLinuxLimit) {
          continue;
        }
        const LinuxResourceRow& row = *IoRows()[i];
        // "MAJ:MIN 0" removes the device's rule (blkio-controller.rst).
        JW_RETURN_IF_ERROR(
            WriteKnob(V1ThrottleDir(p, row.cgroup_v1_controller), row.cgroup_v1_knob,
                      StrCat(dev, " ", d.io[i] == kNoLinuxLimit ? 0 : d.io[i]),
                      d.io[i] != kNoLinuxLimit));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Check(const LinuxJailPaths& p, const CgroupLimits& d,
                     const std::vector<std::string>& devices, KnobReader& reader,
                     std::vector<LimitDrift>* drifted) const override {
    KnobChecker c(reader, drifted);
    const std::string& mem = p.Cgroup(Memory().cgroup_v1_controller);
    if (d.memory_bytes != kNoLinuxLimit) {
      c.Single(Memory(), mem, Memory().cgroup_v1_knob, d.memory_bytes, true);
      if (d.swap_bytes != kNoLinuxLimit) {
        c.Single(Swap(), mem, Swap().cgroup_v1_knob, d.memory_bytes + d.swap_bytes, true);
      }
    }
    if (d.pids != kNoLinuxLimit) {
      c.Single(Pids(), p.Cgroup(Pids().cgroup_v1_controller), Pids().cgroup_v1_knob, d.pids,
               false);
    }
    if (d.pcpu != kNoLinuxLimit) {
      // The share is quota / period: a jail could widen it through either.
      const std::string& cpu = p.Cgroup(Cpu().cgroup_v1_controller);
      std::optional<std::string> period = c.Read(cpu, "cpu.cfs_period_us");
      std::optional<std::string> quota = c.Read(cpu, Cpu().cgroup_v1_knob);
      if (period && quota) {
        int64_t want = CfsQuotaUs(d.pcpu, ParseCgroupSingleValue(*period).value_or(100000));
        if (!SameLimit(ParseCgroupSingleValue(*quota), want, false)) {
          c.Drift(Cpu(), cpu, Cpu().cgroup_v1_knob,
                  StrCat(StripWhitespace(*quota), " per ", StripWhitespace(*period)),
                  StrCat(want));
        }
      }
    }
    for (std::size_t i = 0; i < d.io.size(); ++i) {
      if (d.io[i] == kNoLinuxLimit) {
        continue;
      }
      const LinuxResourceRow& row = *IoRows()[i];
      const std::string dir = V1ThrottleDir(p, row.cgroup_v1_controller);
      std::optional<std::string> text = c.Read(dir, row.cgroup_v1_knob);
      for (const std::string& dev : devices) {
        if (text && !SameLimit(DeviceValue(*text, dev, ""), d.io[i], false)) {
          c.Drift(row, dir, row.cgroup_v1_knob, *text, StrCat(dev, " ", d.io[i]));
        }
      }
    }
    return c.status();
  }
};

class LinuxCgroupV2KnobWriter final : public CgroupKnobWriter {
 public:
  using CgroupKnobWriter::Check;
  std::string_view version() const override { return "v2"; }
  bool swap_needs_memory_limit() const override { return false; }

  absl::Status Write(const LinuxJailPaths& p, const CgroupLimits& d, const CgroupLimits& before,
                     const std::vector<std::string>& devices) const override {
    (void)before;  // every v2 knob takes "max": nothing depends on the past
    const std::string& dir = p.Cgroup("unified");
    JW_RETURN_IF_ERROR(WriteKnob(dir, Memory().cgroup_v2_knob, V2Value(d.memory_bytes),
                                 d.memory_bytes != kNoLinuxLimit));
    JW_RETURN_IF_ERROR(WriteKnob(dir, Swap().cgroup_v2_knob, V2Value(d.swap_bytes),
                                 d.swap_bytes != kNoLinuxLimit));
    JW_RETURN_IF_ERROR(
        WriteKnob(dir, Pids().cgroup_v2_knob, V2Value(d.pids), d.pids != kNoLinuxLimit));
    std::string cpu = d.pcpu == kNoLinuxLimit ? "max 100000"
                                              : StrCat(CfsQuotaUs(d.pcpu, 100000), " 100000");
    JW_RETURN_IF_ERROR(WriteKnob(dir, Cpu().cgroup_v2_knob, cpu, d.pcpu != kNoLinuxLimit));
    const bool io_wanted = d.io_limited();
    for (const std::string& dev : devices) {
      // One line per device: "MAJ:MIN rbps=N wbps=N riops=N wiops=N".
      std::string line = dev;
      for (std::size_t i = 0; i < d.io.size(); ++i) {
        StrAppend(&line, " ", IoRows()[i]->cgroup_v2_key, "=", V2Value(d.io[i]));
      }
      JW_RETURN_IF_ERROR(WriteKnob(dir, IoRows()[0]->cgroup_v2_knob, line, io_wanted));
    }
    return absl::OkStatus();
  }

  absl::Status Check(const LinuxJailPaths& p, const CgroupLimits& d,
                     const std::vector<std::string>& devices, KnobReader& reader,
                     std::vector<LimitDrift>* drifted) const override {
    KnobChecker c(reader, drifted);
    const std::string& dir = p.Cgroup("unified");
    if (d.memory_bytes != kNoLinuxLimit) {
      c.Single(Memory(), dir, Memory().cgroup_v2_knob, d.memory_bytes, true);
    }
    if (d.swap_bytes != kNoLinuxLimit) {
      c.Single(Swap(), dir, Swap().cgroup_v2_knob, d.swap_bytes, true);
    }
    if (d.pids != kNoLinuxLimit) {
      c.Single(Pids(), dir, Pids().cgroup_v2_knob, d.pids, false);
    }
    if (d.pcpu != kNoLinuxLimit) {
      // "QUOTA PERIOD": the share is their ratio.
      if (std::optional<std::string> text = c.Read(dir, Cpu().cgroup_v2_knob)) {
        std::vector<std::string_view> f = SplitWhitespace(*text);
        int64_t period = 100000;
        std::optional<int64_t> quota;
        if (f.size() == 2) {
          period = ParseCgroupSingleValue(f[1]).value_or(-1);
          quota = ParseCgroupSingleValue(f[0]);
        }
        int64_t want = CfsQuotaUs(d.pcpu, period > 0 ? period : 100000);
        if (period <= 0 || !SameLimit(quota, want, false)) {
          c.Drift(Cpu(), dir, Cpu().cgroup_v2_knob, *text, StrCat(want, " ", period));
        }
      }
    }
    if (d.io_limited()) {
      std::optional<std::string> text = c.Read(dir, IoRows()[0]->cgroup_v2_knob);
      for (const std::string& dev : devices) {
        for (std::size_t i = 0; text && i < d.io.size(); ++i) {
          const LinuxResourceRow& row = *IoRows()[i];
          if (d.io[i] != kNoLinuxLimit &&
              !SameLimit(DeviceValue(*text, dev, row.cgroup_v2_key), d.io[i], false)) {
            c.Drift(row, dir, row.cgroup_v2_knob, *text,
                    StrCat(dev, " ", row.cgroup_v2_key, "=", d.io[i]));
          }
        }
      }
    }
    return c.status();
  }
};

}  // namespace

bool CgroupLimits::io_limited() const {
  return std::any_of(io.begin(), io.end(), [](int64_t v) { return v != kNoLinuxLimit; });
}

std::unique_ptr<CgroupKnobWriter> NewLinuxCgroupV1KnobWriter() {
  return std::make_unique<LinuxCgroupV1KnobWriter>();
}

std::unique_ptr<CgroupKnobWriter> NewLinuxCgroupV2KnobWriter() {
  return std::make_unique<LinuxCgroupV2KnobWriter>();
}

std::unique_ptr<CgroupKnobWriter> NewCgroupKnobWriter(std::string_view version) {
  return version == "v2" ? NewLinuxCgroupV2KnobWriter() : NewLinuxCgroupV1KnobWriter();
}

int64_t CfsQuotaUs(int64_t pcpu, int64_t period_us) {
  // In long double: pcpu × period overflows int64 for huge amounts.
  long double q = static_cast<long double>(pcpu) * static_cast<long double>(period_us) / 1e8L;
  int64_t quota = q > 1e15L ? static_cast<int64_t>(1e15) : static_cast<int64_t>(q);
  return std::max<int64_t>(quota, 1000);  // the kernel's minimum quota is 1 ms
}

}  // namespace jailwarden::platform
