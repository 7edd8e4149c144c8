#include "jailwarden/jail/state_store.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::jail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

platform::JailSpec FullSpec() {
  platform::JailSpec s;
  s.name = "web";
  s.path = "/jails/web";
  s.hostname = "web.example";
  s.base_root = "/jails/base";
  s.network.mode = platform::NetworkMode::kVnet;
  s.network.ip4_addresses = {"169.254.10.2/30"};
  s.network.ip6_addresses = {"fe80::2/64"};
  s.network.host_ip4 = "169.254.10.1/30";
  s.network.interface = "em0";
  s.mounts = {{"/srv/data", "/data", "nullfs", true, ""},
              {"tmpfs", "/scratch", "tmpfs", false, "size=1m"}};
  s.copies = {{"/etc/resolv.conf", "/etc/resolv.conf"}};
  s.exec.prepare = {"echo prepare"};
  s.exec.prestart = {"echo a", "echo b"};
  s.exec.created = {"c"};
  s.exec.start = {"/bin/sh /etc/rc"};
  s.exec.poststart = {"p"};
  s.exec.prestop = {"ps"};
  s.exec.stop = {"/bin/sh /etc/rc.shutdown"};
  s.exec.poststop = {"q"};
  s.exec.release = {"r"};
  s.exec.clean = true;
  s.exec.timeout = absl::Seconds(30);
  s.depend = {"db", "cache"};
  s.persist = true;
  s.stop_timeout = absl::Milliseconds(2500);
  s.parameters = {{"allow.raw_sockets", "1"}, {"linux.devpts.max", "8"}};
  return s;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/jw-state-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)!system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SpecJsonTest, RoundTripKeepsEveryField) {
  platform::JailSpec s = FullSpec();
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(SpecJsonTest, DefaultsForMissingKeys) {
  auto s = SpecFromJson(R"({"name": "a", "path": "/j/a"})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->network.mode, platform::NetworkMode::kInherit);
  EXPECT_EQ(s->stop_timeout, absl::Seconds(10));
  EXPECT_FALSE(s->persist);
}

TEST(SpecJsonTest, BadJsonSaysWhere) {
  auto s = SpecFromJson("{\"name\": ");
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("config.json"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("parse error"));
}

TEST(SpecJsonTest, BadNetworkModeIsNamed) {
  auto s = SpecFromJson(R"({"name": "a", "network": {"mode": "bridge"}})");
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("\"bridge\""));
}

TEST(RuntimeJsonTest, RoundTrip) {
  JailRecord rec;
  rec.spec = FullSpec();
  rec.state = JailState::kRunning;
  rec.jid = 7;
  rec.ephemeral = true;
  rec.done = {"prepare", "create"};
  rec.instance.ref.name = "web";
  rec.instance.ref.jid = 7;
  rec.instance.init_pid = 4242;
  rec.instance.started = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(5);
  rec.instance.backend_state = {{"cgroup.pids", "/sys/fs/cgroup/pids/jailwarden/web"},
                                {"init.starttime", "123456"}};
  JailRecord back;
  back.spec = rec.spec;
  ASSERT_TRUE(RuntimeFromJson(RuntimeToJson(rec), back).ok());
  EXPECT_EQ(back.state, JailState::kRunning);
  EXPECT_EQ(back.jid, 7);
  EXPECT_TRUE(back.ephemeral);
  EXPECT_EQ(back.done, rec.done);
  EXPECT_EQ(back.instance.ref, rec.instance.ref);
  EXPECT_EQ(back.instance.init_pid, 4242);
  EXPECT_EQ(back.instance.started, rec.instance.started);
  EXPECT_EQ(back.instance.backend_state, rec.instance.backend_state);
}

TEST(RuntimeJsonTest, UnknownStateIsAnError) {
  JailRecord rec;
  auto st = RuntimeFromJson(R"({"state": "zombie"})", rec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("zombie"));
}

TEST(RuntimeJsonTest, BadJsonSaysWhereWithoutTheLibrarysTag) {
  JailRecord rec;
  auto st = RuntimeFromJson("{\"state\": ", rec);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), ::testing::StartsWith("state.json: parse error at line 1"));
  EXPECT_THAT(std::string(st.message()), ::testing::Not(HasSubstr("json.exception")));
}

TEST(JailStateTest, NamesRoundTrip) {
  for (JailState s : {JailState::kStopped, JailState::kStarting, JailState::kRunning,
                      JailState::kStopping}) {
    EXPECT_EQ(*ParseJailState(JailStateName(s)), s);
  }
}

TEST(StateStoreTest, SaveLoadListRemove) {
  TempDir dir;
  auto store = StateStore::Open(dir.path() + "/state", /*fsync=*/true);
  ASSERT_TRUE(store.ok()) << store.status();
  JailRecord rec;
  rec.spec = FullSpec();
  rec.state = JailState::kStarting;
  ASSERT_TRUE((*store)->Save(rec).ok());
  rec.spec.name = "db";
  ASSERT_TRUE((*store)->Save(rec).ok());
  EXPECT_THAT(*(*store)->ListNames(), ElementsAre("db", "web"));
  auto web = (*store)->Load("web");
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->spec, FullSpec());
  EXPECT_EQ(web->state, JailState::kStarting);
  // No temp files left behind by the atomic writes.
  DIR* d = opendir(((*store)->JailDir("web")).c_str());
  std::vector<std::string> files;
  while (auto* e = readdir(d)) {
    if (e->d_name[0] != '.') files.push_back(e->d_name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  EXPECT_THAT(files, ElementsAre("config.json", "state.json"));
  ASSERT_TRUE((*store)->Remove("web").ok());
  ASSERT_TRUE((*store)->Remove("web").ok());  // already gone is fine
  EXPECT_THAT(*(*store)->ListNames(), ElementsAre("db"));
  EXPECT_EQ((*store)->Load("web").status().code(), absl::StatusCode::kNotFound);
}

// A Remove killed after its rename, half-way through deleting: the next
// Open finishes it, and the jail is gone, not half-defined.
TEST(StateStoreTest, ARemovalKilledHalfWayIsFinishedByOpen) {
  TempDir dir;
  const std::string root = dir.path() + "/state";
  {
    auto store = StateStore::Open(root, /*fsync=*/true);
    ASSERT_TRUE(store.ok()) << store.status();
    JailRecord rec;
    rec.spec = FullSpec();
    ASSERT_TRUE((*store)->Save(rec).ok());
  }
  // What the rename and part of the delete leave: config.json gone first.
  ASSERT_EQ(rename((root + "/jails/web").c_str(), (root + "/jails/.web.removing").c_str()), 0);
  ASSERT_EQ(unlink((root + "/jails/.web.removing/config.json").c_str()), 0);
  auto store = StateStore::Open(root, /*fsync=*/true);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(*(*store)->ListNames(), ::testing::IsEmpty());
  EXPECT_THAT((*store)->stale_removed(), ::testing::Contains(root + "/jails/.web.removing"));
  EXPECT_NE(access((root + "/jails/.web.removing").c_str(), F_OK), 0);
  EXPECT_EQ((*store)->Load("web").status().code(), absl::StatusCode::kNotFound);
}

TEST(StateStoreTest, EphemeralRecordsAreKeptApartUnderTransient) {
  TempDir dir;
  auto store = *StateStore::Open(dir.path(), /*fsync=*/true);
  JailRecord rec;
  rec.spec = FullSpec();
  rec.ephemeral = true;
  rec.state = JailState::kStarting;
  ASSERT_TRUE(store->Save(rec).ok());
  EXPECT_THAT(*store->ListNames(), ElementsAre());
  EXPECT_THAT(*store->ListNames(/*transient=*/true), ElementsAre("web"));
  EXPECT_EQ(access((dir.path() + "/transient/web.json").c_str(), F_OK), 0);
  auto back = store->Load("web", /*transient=*/true);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->ephemeral);
  EXPECT_EQ(back->state, JailState::kStarting);
  EXPECT_EQ(store->Load("web").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->Remove("web", /*transient=*/true).ok());
  EXPECT_THAT(*store->ListNames(/*transient=*/true), ElementsAre());
}

TEST(StateStoreTest, TransientRecordsCanLiveInTheRuntimeDirectory) {
  TempDir dir;
  auto store = *StateStore::Open(dir.path() + "/state", true, dir.path() + "/run/transient");
  JailRecord rec;
  rec.spec = FullSpec();
  rec.ephemeral = true;
  ASSERT_TRUE(store->Save(rec).ok());
  EXPECT_EQ(access((dir.path() + "/run/transient/web.json").c_str(), F_OK), 0);
  EXPECT_THAT(*store->ListNames(/*transient=*/true), ElementsAre("web"));
  EXPECT_EQ(StateStore::Open(dir.path(), true, "relative").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StateStoreTest, NameMustMatchDirectory) {
  TempDir dir;
  auto store = *StateStore::Open(dir.path(), false);
  JailRecord rec;
  rec.spec = FullSpec();
  ASSERT_TRUE(store->Save(rec).ok());
  ASSERT_EQ(rename((dir.path() + "/jails/web").c_str(), (dir.path() + "/jails/w2").c_str()), 0);
  auto loaded = store->Load("w2");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StateStoreTest, LastJidPersists) {
  TempDir dir;
  auto store = *StateStore::Open(dir.path(), false);
  EXPECT_EQ(*store->LoadLastJid(), 0);
  ASSERT_TRUE(store->SaveLastJid(41).ok());
  auto again = *StateStore::Open(dir.path(), false);
  EXPECT_EQ(*again->LoadLastJid(), 41);
}

TEST(StateStoreTest, OpenRemovesWhatKilledWritesLeftAndOnlyThat) {
  TempDir dir;
  const std::string root = dir.path();
  {
    auto store = *StateStore::Open(root, true);
    JailRecord rec;
    rec.spec = FullSpec();
    ASSERT_TRUE(store->Save(rec).ok());
  }
  auto touch = [](const std::string& path) { std::ofstream(path) << "{\"half"; };
  touch(root + "/jails/web/config.json.tmp");  // an update killed before rename
  touch(root + "/jails/web/state.json.tmp");
  ASSERT_EQ(mkdir((root + "/jails/half").c_str(), 0700), 0);  // a create killed
  touch(root + "/jails/half/config.json.tmp");
  ASSERT_EQ(mkdir((root + "/jails/empty").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((root + "/jails/odd").c_str(), 0700), 0);  // not ours to judge
  touch(root + "/jails/odd/notes.txt");
  touch(root + "/transient/run-1.json.tmp");
  touch(root + "/manager.json.tmp");
  touch(root + "/someone-elses.tmp");

  auto store = *StateStore::Open(root, true);
  std::vector<std::string> removed = store->stale_removed();
  std::sort(removed.begin(), removed.end());
  EXPECT_THAT(removed,
              ElementsAre(root + "/jails/empty", root + "/jails/half",
                          root + "/jails/half/config.json.tmp",
                          root + "/jails/web/config.json.tmp",
                          root + "/jails/web/state.json.tmp", root + "/manager.json.tmp",
                          root + "/transient/run-1.json.tmp"));
  EXPECT_THAT(*store->ListNames(), ElementsAre("odd", "web"));
  auto web = store->Load("web");
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->spec, FullSpec());
  EXPECT_EQ(access((root + "/someone-elses.tmp").c_str(), F_OK), 0);
  EXPECT_EQ(access((root + "/jails/odd/notes.txt").c_str(), F_OK), 0);
  // Nothing left to remove (and so nothing to warn about) the next time.
  EXPECT_THAT(StateStore::Open(root, true).value()->stale_removed(), ElementsAre());
}

TEST(StateStoreTest, RelativeRootIsRejected) {
  EXPECT_EQ(StateStore::Open("state", false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jailwarden::jail
