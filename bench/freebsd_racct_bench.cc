// The FreeBSD sampler's per-jail cost: parsing one rctl_get_racct(2)
// answer (25 pairs), against a plain pass over the same bytes (baseline),
// and against rctl::ParseUsage (the general parser it stands in for).

#include <benchmark/benchmark.h>

#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "jailwarden/platform/freebsd/racct_parser.h"
#include "jailwarden/platform/freebsd/racct_reader.h"
#include "jailwarden/rctl/kernel_form.h"

namespace {

const std::string kJail =
    "cputime=1832,datasize=48656384,stacksize=7864320,coredumpsize=0,"
    "memoryuse=402653184,memorylocked=0,maxproc=23,openfiles=1744,"
    "vmemoryuse=2147483648,pseudoterminals=1,swapuse=0,nthr=57,msgqqueued=0,"
    "msgqsize=0,nmsgq=0,nsem=0,nsemop=0,nshm=2,shmsize=16777216,"
    "wallclock=864230,pcpu=12,readbps=0,writebps=40960,readiops=0,writeiops=10";

// Baseline: touch every byte once (count commas).
void BM_FreeBsdRacct_ScanBaseline(benchmark::State& state) {
  for (auto _ : state) {
    int commas = 0;
    for (char c : kJail) commas += c == ',';
    benchmark::DoNotOptimize(commas);
  }
}
BENCHMARK(BM_FreeBsdRacct_ScanBaseline);

void BM_FreeBsdRacct_ParseRacctOutput(benchmark::State& state) {
  jailwarden::platform::RawUsage u;
  for (auto _ : state) {
    benchmark::DoNotOptimize(jailwarden::platform::ParseRacctOutput(kJail, u));
  }
}
BENCHMARK(BM_FreeBsdRacct_ParseRacctOutput);

void BM_FreeBsdRacct_RctlParseUsage(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(jailwarden::rctl::ParseUsage(kJail));
  }
}
BENCHMARK(BM_FreeBsdRacct_RctlParseUsage);

// One ReadFast against the fake kernel (which formats its answer with the
// rctl layer on every call, so this is an upper bound on the reader).
void BM_FreeBsdRacct_ReadFastFakeKernel(benchmark::State& state) {
  jailwarden::platform::FakeFreeBsdKernel kernel;
  kernel.JailSetv(jailwarden::platform::kJailCreate,
                  {{"name", "www"}, {"persist", std::nullopt}});
  jailwarden::platform::FreeBsdRacctReader reader(kernel);
  jailwarden::platform::RawUsage u;
  const jailwarden::platform::JailRef ref{"www", 1, "", 1};
  for (auto _ : state) benchmark::DoNotOptimize(reader.ReadFast(ref, u));
}
BENCHMARK(BM_FreeBsdRacct_ReadFastFakeKernel);

}  // namespace

BENCHMARK_MAIN();
