#pragma once

// The shared set-up of the root-only disk quota tests (issue 13;
// jail_disk_quota_test.cc on ext4, jail_btrfs_quota_test.cc on btrfs): a
// file system image on a loop device, mounted only in the mount namespace
// serve runs in (unshare --mount, private propagation: the host's mount
// table never changes), holding the daemon's state directory, and the CLI
// and /metrics of that daemon.
//
// A test derives from LoopImageTest, calls MakeLoopImage from SetUp (and
// returns when it skipped or failed), does its file system's own part,
// then WritePolicy and StartServe. Without root, the tools or a loop
// device it skips with the reason, and fails under CI=true. TearDown stops
// serve (its jails stop, the namespace and the mount go with its last
// process), detaches the loop device and removes the temporary directory.
// Not thread-safe (a gtest fixture).

#include <sys/stat.h>

#include <cstdint>
#include <vector>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/isolation_fixture.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"
#include "nlohmann/json.hpp"

namespace jailwarden::testing {

// What MakeLoopImage makes.
struct LoopImageOptions {
  std::string temp_prefix;  // MakeTempDir's prefix, e.g. "jw-it-btrfs"
  std::string image_name;   // the image file in the temporary directory
  std::string size;         // truncate -s, e.g. "256M"
  std::string mkfs;         // the mkfs command the image's path is appended to
  std::vector<std::string> tools;  // commands the test needs
  std::string why;          // appended to a skip: what is missing it for
};

class LoopImageTest : public ::testing::Test {
 protected:
  // Root, the jailwarden binary, the busybox base, `o.tools` and loop
  // devices, else it skips (fails under CI=true); then top_, image_ (made
  // and formatted), mnt_ (an empty directory) and loop_ (the image's loop
  // device). The caller returns when IsSkipped() or HasFatalFailure().
  void MakeLoopImage(const LoopImageOptions& o) {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_TRUE(PathExists(EscapeProbePath())) << EscapeProbePath();
    ASSERT_FALSE(BusyboxBase().empty());
    for (const std::string& tool : o.tools) {
      if (HostShell(absl::StrCat("command -v ", tool, " >/dev/null")).exit_code != 0) {
        JW_SKIP_OR_FAIL_UNDER_CI(absl::StrCat(tool, " is not installed", o.why));
      }
    }
    if (!PathExists("/dev/loop-control")) {
      JW_SKIP_OR_FAIL_UNDER_CI(absl::StrCat("no loop devices (/dev/loop-control)", o.why));
    }
    top_ = MakeTempDir(o.temp_prefix);
    image_ = top_ + "/" + o.image_name;
    mnt_ = top_ + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0700), 0);
    ShellResult mk = HostShell(absl::StrCat("truncate -s ", o.size, " ", Quote(image_), " && ",
                                            o.mkfs, " ", Quote(image_), " 2>&1"));
    ASSERT_EQ(mk.exit_code, 0) << o.mkfs << ": " << mk.out;
    ShellResult lo = HostShell(absl::StrCat("losetup -f --show ", Quote(image_), " 2>&1"));
    if (lo.exit_code != 0 || lo.out.rfind("/dev/loop", 0) != 0) {
      JW_SKIP_OR_FAIL_UNDER_CI(absl::StrCat("losetup: no loop device available: ", lo.out));
    }
    loop_ = lo.out.substr(0, lo.out.find('\n'));
  }

  // config_: state and token under the image and top_, and the thin jail
  // "q" (the busybox base, persist, an 8 MiB linux.disk_quota, escape_probe
  // copied to /bin/escape_probe), then `more_jails` (YAML under `jails:`).
  void WritePolicy(const std::string& more_jails = "") {
    config_ = top_ + "/policy.yaml";
    WriteText(config_,
              absl::StrCat("server:\n  api_socket: \"\"\n  state_dir: ", mnt_, "/state\n",
                           "  token_file: ", top_, "/token\n", "jails:\n  q:\n    base: ",
                           BusyboxBase(), "\n    persist: true\n    stop.timeout: 2s\n",
                           "    linux.disk_quota: 8M\n    copy:\n      - source: ",
                           EscapeProbePath(), "\n        target: /bin/escape_probe\n",
                           more_jails));
  }

  // Starts serve (loopback, an ephemeral port, its jails stopped on exit)
  // in a mount namespace of its own where `mount MOUNT_ARGS loop_ mnt_`
  // ran first (e.g. "-t ext4 -o prjquota"; serve's exit code is 97 if it
  // failed). Fails the test if serve does not come up.
  void StartServe(const std::string& mount_args) {
    serve_ = std::make_unique<Serve>(top_, config_);
    serve_->SetWrapper({"/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                        "/bin/sh", "-c",
                        absl::StrCat("mount ", mount_args,
                                     " \"$0\" \"$1\" || exit 97; shift; exec \"$@\""),
                        loop_, mnt_});
    ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
  }

  void TearDown() override {
    serve_.reset();  // the jails stop, the namespace and its mount go with the last process
    if (!loop_.empty()) {
      // Busy for a moment while the namespace goes: -d then only marks it
      // to be detached on its last close (autoclear).
      EXPECT_EQ(HostShell(absl::StrCat("losetup -d ", Quote(loop_), " 2>&1")).exit_code, 0);
    }
    if (!top_.empty()) RemoveTree(top_);
  }

  // `jailwarden VERB --config ... --server ... ARGS` with stderr folded in
  // (the connection flags before ARGS: exec's command follows "--").
  ShellResult Cli(const std::string& verb, const std::string& args) {
    return HostShell(absl::StrCat(kJailwarden, " ", verb, " --config ", Quote(config_),
                                  " --server http://127.0.0.1:", serve_->port(), " ", args,
                                  " 2>&1"));
  }

  // The jail's isolation report once it is running (polled for at most
  // 30 s); null if it never is.
  nlohmann::json Isolation(const std::string& jail) {
    for (int i = 0; i < 300; ++i) {
      const nlohmann::json j = nlohmann::json::parse(
          Cli("get", absl::StrCat(jail, " isolation --json")).out, nullptr, false);
      if (j.is_object() && j.contains("isolation") && j["isolation"].is_object()) {
        return j["isolation"];
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return nullptr;
  }

  // Jail q's writes past its 8 MiB quota fail with EDQUOT: one file of
  // 16 MiB, then a second one of `more_mib` MiB in a new directory (with
  // `sync` before and after it: where usage is accounted at commits).
  void ExpectWritesPastTheQuotaFail(int more_mib, bool sync) {
    ShellResult dd = Cli("exec", "q -- dd if=/dev/zero of=/fill bs=1M count=16");
    EXPECT_NE(dd.exit_code, 0) << dd.out;
    EXPECT_THAT(dd.out, ::testing::HasSubstr("Disk quota exceeded"));
    ShellResult more = Cli(
        "exec", absl::StrCat("q -- /bin/sh -c '", sync ? "sync; " : "",
                             "mkdir -p /d && dd if=/dev/zero of=/d/more bs=1M count=", more_mib,
                             sync ? "; sync" : "", "'"));
    EXPECT_THAT(more.out, ::testing::HasSubstr("Disk quota exceeded"));
  }

  // /metrics reports jail q's 8 MiB quota and its usage by `mechanism`,
  // and the disk_quota isolation layer as on.
  void ExpectQuotaMetrics(const std::string& mechanism) {
    using ::testing::HasSubstr;
    const std::string metrics =
        HostShell(absl::StrCat("curl -sS -m 5 http://127.0.0.1:", serve_->port(), "/metrics"))
            .out;
    EXPECT_THAT(metrics, HasSubstr(absl::StrCat("jailwarden_jail_disk_quota_bytes{name=\"q\","
                                                "mechanism=\"", mechanism, "\"} 8388608")));
    EXPECT_THAT(metrics, HasSubstr(absl::StrCat("jailwarden_jail_disk_quota_used_bytes{name="
                                                "\"q\",mechanism=\"", mechanism, "\"} ")));
    EXPECT_THAT(metrics,
                HasSubstr("jailwarden_jail_isolation{name=\"q\",layer=\"disk_quota\"} 1"));
  }

  std::string top_, image_, mnt_, loop_, config_;
  std::unique_ptr<Serve> serve_;
};

}  // namespace jailwarden::testing
