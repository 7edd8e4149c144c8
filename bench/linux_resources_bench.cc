// The Linux sampler's readers: fast-tier ReadFast over held files and the
// pure parsers, each against a baseline in the same binary (a raw pread of
// the same files; a plain newline scan of the same text). Files are the
// real v1 captures and the v2 fixture in tests/testdata/linux (regular
// files here; live cgroupfs reads are in linux-mapping.md §3).

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/proc_parser.h"

namespace jailwarden::platform {
namespace {


std::string Testdata() {
  // bench binaries do not get JW_TESTDATA_DIR: find tests/testdata from
  // the source tree recorded in the executable's path (build-*/bench/..).
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  for (int i = 0; i < 3 && !dir.empty(); ++i) {
    dir = dir.substr(0, dir.rfind('/'));
  }
  return dir + "/tests/testdata/linux";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* const kV1Files[] = {"cpuacct.usage", "memory.stat", "pids.current",
                                "blkio.throttle.io_service_bytes_recursive",
                                "blkio.throttle.io_serviced_recursive"};

void BM_LinuxCgroupV1_PreadBaseline(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  std::vector<int> fds;
  for (int j = 0; j < jails; ++j) {
    for (const char* f : kV1Files) {
      fds.push_back(open((Testdata() + "/v1/" + f).c_str(), O_RDONLY | O_CLOEXEC));
    }
  }
  char buf[16384];
  for (auto _ : state) {
    for (int fd : fds) {
      benchmark::DoNotOptimize(pread(fd, buf, sizeof(buf) - 1, 0));
    }
  }
  for (int fd : fds) {
    close(fd);
  }
  state.SetItemsProcessed(state.iterations() * jails);
}
BENCHMARK(BM_LinuxCgroupV1_PreadBaseline)->Arg(1)->Arg(100);

std::unique_ptr<LinuxUsageReader> MakeReader(const std::string& version,
                                             std::vector<JailRef>& refs, int jails) {
  LinuxUsageReaderOptions o;
  o.cgroup_version = version;
  o.read_sysv_ipc = false;
  auto reader = *LinuxUsageReader::Create(o);
  for (int j = 0; j < jails; ++j) {
    JailInstance inst;
    inst.ref.name = "j" + std::to_string(j);
    if (version == "v2") {
      inst.backend_state["cgroup.unified"] = Testdata() + "/v2/jail1";
    } else {
      for (const char* h : {"cpuacct", "memory", "pids", "blkio"}) {
        inst.backend_state[std::string("cgroup.") + h] = Testdata() + "/v1";
      }
    }
    inst.started = absl::Now();
    refs.push_back(*reader->AddJail(inst));
  }
  return reader;
}

void BM_LinuxCgroupV1_ReadFast(benchmark::State& state) {
  std::vector<JailRef> refs;
  auto reader = MakeReader("v1", refs, static_cast<int>(state.range(0)));
  RawUsage u;
  for (auto _ : state) {
    for (const JailRef& r : refs) {
      benchmark::DoNotOptimize(reader->ReadFast(r, u));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(refs.size()));
}
BENCHMARK(BM_LinuxCgroupV1_ReadFast)->Arg(1)->Arg(100);

void BM_LinuxCgroupV2_ReadFast(benchmark::State& state) {
  std::vector<JailRef> refs;
  auto reader = MakeReader("v2", refs, static_cast<int>(state.range(0)));
  RawUsage u;
  for (auto _ : state) {
    for (const JailRef& r : refs) {
      benchmark::DoNotOptimize(reader->ReadFast(r, u));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(refs.size()));
}
BENCHMARK(BM_LinuxCgroupV2_ReadFast)->Arg(1)->Arg(100);

int64_t CountLines(const std::string& text) {
  int64_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p))))) {
    ++n;
    ++p;
  }
  return n;
}

void BM_LinuxCgroupFiles_ScanBaseline(benchmark::State& state) {
  std::string text = ReadAll(Testdata() + "/v1/memory.stat");
  for (auto _ : state) {
    benchmark::DoNotOptimize(CountLines(text));
  }
}
BENCHMARK(BM_LinuxCgroupFiles_ScanBaseline);

void BM_LinuxCgroupFiles_MemoryStatV1(benchmark::State& state) {
  std::string text = ReadAll(Testdata() + "/v1/memory.stat");
  for (auto _ : state) {
    static constexpr std::string_view kKeys[] = {"total_rss", "total_mapped_file",
                                                 "total_swap"};
    std::optional<int64_t> v[3];
    FindCgroupKeyedValues(text, kKeys, v, 3);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_LinuxCgroupFiles_MemoryStatV1);

void BM_LinuxCgroupFiles_BlkioThrottle(benchmark::State& state) {
  std::string text = ReadAll(Testdata() + "/v1/blkio.throttle.io_service_bytes_recursive");
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseBlkioThrottleTotals(text));
  }
}
BENCHMARK(BM_LinuxCgroupFiles_BlkioThrottle);

void BM_LinuxProc_ScanBaseline(benchmark::State& state) {
  std::string text = ReadAll(Testdata() + "/proc/status_sleep.txt");
  for (auto _ : state) {
    benchmark::DoNotOptimize(CountLines(text));
  }
}
BENCHMARK(BM_LinuxProc_ScanBaseline);

void BM_LinuxProc_ParseStatus(benchmark::State& state) {
  std::string text = ReadAll(Testdata() + "/proc/status_sleep.txt");
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseProcStatus(text));
  }
}
BENCHMARK(BM_LinuxProc_ParseStatus);

void BM_LinuxProc_ReadStatusBaseline(benchmark::State& state) {
  char buf[4096];
  for (auto _ : state) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    benchmark::DoNotOptimize(read(fd, buf, sizeof(buf)));
    close(fd);
  }
}
BENCHMARK(BM_LinuxProc_ReadStatusBaseline);

void BM_LinuxProc_ReadProcess(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(LinuxUsageReader::ReadProcess(getpid()));
  }
}
BENCHMARK(BM_LinuxProc_ReadProcess);

}  // namespace
}  // namespace jailwarden::platform

BENCHMARK_MAIN();
