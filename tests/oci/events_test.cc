// runc's stats data read from fixture cgroup trees (v1 as on hybrid hosts,
// v2): the sampler's counters, the limits, per-device I/O, memory.stat.
#include "oci/events.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

namespace jailwarden::oci {
namespace {

using json = nlohmann::json;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-oci-events.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Makes `hier`/c1 with `files` and records it as cgroup.<hier>.
  void Cgroup(const std::string& hier, const std::map<std::string, std::string>& files) {
    std::string d = dir_ + "/" + hier + "/c1";
    std::filesystem::create_directories(d);
    for (const auto& [name, text] : files) {
      std::ofstream(d + "/" + name) << text;
    }
    record_.backend_state["cgroup." + hier] = d;
  }
  json Data(const std::string& version) {
    platform::LinuxUsageReaderOptions o;
    o.cgroup_root = dir_;
    o.cgroup_version = version;
    o.read_sysv_ipc = false;
    record_.id = "c1";
    absl::StatusOr<std::string> text = StatsData(record_, o);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? json::parse(*text) : json();
  }
  std::string dir_;
  ContainerRecord record_;
};

TEST_F(EventsTest, V2FilesInRuncForm) {
  Cgroup("unified",
         {{"cpu.stat",
           "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 10\n"
           "nr_throttled 3\nthrottled_usec 40\n"},
          {"memory.stat", "anon 4096\nfile 8192\nfile_mapped 1024\n"},
          {"memory.current", "16384\n"},
          {"memory.max", "67108864\n"},
          {"memory.peak", "20480\n"},
          {"memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n"},
          {"memory.swap.current", "0\n"},
          {"memory.swap.max", "max\n"},
          {"pids.current", "3\n"},
          {"pids.max", "20\n"},
          {"io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"}});
  json d = Data("v2");
  EXPECT_EQ(d["cpu"]["usage"]["total"], 2500000u);  // the reader's cputime, in ns
  EXPECT_EQ(d["cpu"]["usage"]["user"], 2000000u);
  EXPECT_EQ(d["cpu"]["usage"]["kernel"], 500000u);
  EXPECT_FALSE(d["cpu"]["usage"].contains("percpu"));
  EXPECT_EQ(d["cpu"]["throttling"]["periods"], 10u);
  EXPECT_EQ(d["cpu"]["throttling"]["throttledPeriods"], 3u);
  EXPECT_EQ(d["cpu"]["throttling"]["throttledTime"], 40000u);
  EXPECT_EQ(d["memory"]["usage"]["usage"], 16384u);
  EXPECT_EQ(d["memory"]["usage"]["limit"], 67108864u);
  EXPECT_EQ(d["memory"]["usage"]["max"], 20480u);
  EXPECT_EQ(d["memory"]["usage"]["failcnt"], 7u);
  EXPECT_EQ(d["memory"]["swap"]["limit"], UINT64_MAX);  // memory+swap, unlimited
  EXPECT_EQ(d["memory"]["raw"]["file_mapped"], 1024u);
  EXPECT_EQ(d["memory"]["cache"], 8192u);
  EXPECT_EQ(d["pids"]["current"], 3u);
  EXPECT_EQ(d["pids"]["limit"], 20u);
  EXPECT_EQ(d["blkio"]["ioServiceBytesRecursive"],
            json::parse(R"([{"major":8,"minor":0,"op":"Read","value":100},
                            {"major":8,"minor":0,"op":"Write","value":200}])"));
  EXPECT_EQ(d["blkio"]["ioServicedRecursive"][1]["value"], 2u);
}

TEST_F(EventsTest, V1HybridFilesInRuncForm) {
  Cgroup("cpuacct", {{"cpuacct.usage", "3000000\n"},
                     {"cpuacct.usage_percpu", "1000000 2000000\n"},
                     {"cpuacct.stat", "user 1\nsystem 2\n"}});
  Cgroup("memory", {{"memory.stat", "total_rss 4096\ntotal_mapped_file 0\ntotal_cache 512\n"},
                    {"memory.usage_in_bytes", "8192\n"},
                    {"memory.max_usage_in_bytes", "9000\n"},
                    {"memory.limit_in_bytes", "50331648\n"},
                    {"memory.failcnt", "4\n"}});
  Cgroup("pids", {{"pids.current", "2\n"}, {"pids.max", "max\n"}});
  Cgroup("blkio", {{"blkio.throttle.io_service_bytes_recursive",
                    "254:0 Read 10\n254:0 Write 20\n254:0 Total 30\nTotal 30\n"},
                   {"blkio.throttle.io_serviced_recursive",
                    "254:0 Read 1\n254:0 Write 2\n254:0 Total 3\nTotal 3\n"}});
  Cgroup("unified", {});
  json d = Data("v1");
  EXPECT_EQ(d["cpu"]["usage"]["total"], 3000000u);
  EXPECT_EQ(d["cpu"]["usage"]["percpu"], json::parse("[1000000, 2000000]"));
  const uint64_t tick = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(d["cpu"]["usage"]["user"], tick);
  EXPECT_EQ(d["cpu"]["usage"]["kernel"], 2 * tick);
  EXPECT_EQ(d["memory"]["usage"]["usage"], 8192u);
  EXPECT_EQ(d["memory"]["usage"]["max"], 9000u);
  EXPECT_EQ(d["memory"]["usage"]["limit"], 50331648u);
  EXPECT_EQ(d["memory"]["usage"]["failcnt"], 4u);
  EXPECT_FALSE(d["memory"].contains("swap"));  // no memsw files: no swap accounting
  EXPECT_EQ(d["memory"]["cache"], 512u);
  EXPECT_EQ(d["pids"]["current"], 2u);
  EXPECT_FALSE(d["pids"].contains("limit"));  // "max": unlimited, left out as runc does
  ASSERT_EQ(d["blkio"]["ioServiceBytesRecursive"].size(), 3u);  // Total has no device
  EXPECT_EQ(d["blkio"]["ioServiceBytesRecursive"][1],
            json::parse(R"({"major":254,"minor":0,"op":"Write","value":20})"));
}

TEST_F(EventsTest, GoneCgroupIsNotFound) {
  record_.id = "c1";
  record_.backend_state["cgroup.unified"] = dir_ + "/unified/gone";
  platform::LinuxUsageReaderOptions o;
  o.cgroup_root = dir_;
  o.cgroup_version = "v2";
  o.read_sysv_ipc = false;
  EXPECT_EQ(StatsData(record_, o).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EventsTest, NoCgroupRecordedIsInvalidArgument) {
  record_.id = "c1";
  platform::LinuxUsageReaderOptions o;
  o.cgroup_root = dir_;
  o.read_sysv_ipc = false;
  EXPECT_EQ(StatsData(record_, o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jailwarden::oci
