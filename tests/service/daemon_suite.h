#pragma once

// The shared fixture of the root-only tests of the real daemon
// (daemon_test.cc, daemon_events_test.cc): one `jailwarden serve` per test
// suite on a temporary state directory with a busybox-root base, on
// loopback (an ephemeral port), driven over HTTP and through the CLI.
//
// A suite derives from DaemonSuite<ItsFixture> (the tag gives every suite
// its own static state) and calls SetUpDaemon from SetUpTestSuite. Without
// root the suite's tests skip, and fail under CI=true. TearDownTestSuite
// stops every jail the suite made (a serve started with
// --stop-jails-on-exit adopts and stops them), removes the cgroup
// directories this daemon made below the test's cgroup and the temporary
// directory. Kills only the serve it started, by pid. Not thread-safe (a
// gtest fixture; the statics belong to the suite running).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/rootfs.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden {

inline const std::string kDaemonBinary = JW_BINARY_DIR "/src/jailwarden";

// The file's contents ("" if it cannot be read).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <typename Suite>
class DaemonSuite : public ::testing::Test {
 public:
  // Makes the temporary directory (/tmp/PREFIX-XXXXXX) with the busybox
  // base in base/, writes the policy `policy_template` (STATE and BASE
  // replaced: Policy) and starts serve with `serve_flags` added to its
  // command line. Nothing without root.
  static void SetUpDaemon(const std::string& prefix, std::string policy_template,
                          std::vector<std::string> serve_flags = {}) {
    if (geteuid() != 0) return;
    std::string dir = StrCat("/tmp/", prefix, "-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    base_ = dir_ + "/base";
    state_ = dir_ + "/state";
    config_ = dir_ + "/jailwarden.yaml";
    policy_template_ = std::move(policy_template);
    serve_flags_ = std::move(serve_flags);
    ASSERT_TRUE(platform::BuildBusyboxRoot(base_).ok());
    std::ofstream(config_) << Policy();
    StartServe(false);
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    StopServe();
    // Stop every jail this suite made: a serve that adopts them and stops
    // them on exit.
    StartServe(true);
    StopServe();
    // The jails' cgroups are gone; remove the (empty) parent directories
    // this daemon made below our cgroup. The name is unique to state_.
    const std::string parent = service::CgroupParentFor(state_);
    (void)std::system(StrCat("find /sys/fs/cgroup -xdev -depth -type d -name '", parent,
                             "' -exec rmdir {} + 2>/dev/null").c_str());
    (void)std::system(StrCat("rm -rf '", dir_, "'").c_str());
    dir_.clear();
  }

  // `text` (the suite's policy by default) with STATE and BASE replaced by
  // the state directory and the busybox base.
  static std::string Policy() { return Policy(policy_template_); }
  static std::string Policy(std::string text) {
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{{"STATE", state_}, {"BASE", base_}}) {
      std::size_t p;
      while ((p = text.find(key)) != std::string::npos) text.replace(p, key.size(), value);
    }
    return text;
  }

  // Starts serve and waits (at most 60 s) for its port file; server_ and
  // token_ then say where and how to reach it. A failure if serve exits
  // first or never writes its port.
  static void StartServe(bool stop_jails_on_exit) {
    const std::string port_file = dir_ + "/port";
    unlink(port_file.c_str());
    serve_pid_ = fork();
    if (serve_pid_ == 0) {
      std::vector<std::string> args = {kDaemonBinary, "serve", "--config", config_,
                                       "--listen", "127.0.0.1:0", "--port-file",
                                       port_file, "--log-file", dir_ + "/serve.log"};
      args.insert(args.end(), serve_flags_.begin(), serve_flags_.end());
      if (stop_jails_on_exit) args.push_back("--stop-jails-on-exit");
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(kDaemonBinary.c_str(), argv.data());
      _exit(127);
    }
    server_.clear();
    for (int i = 0; i < 600; ++i) {
      const std::string port(StripWhitespace(ReadWholeFile(port_file)));
      if (!port.empty()) {
        server_ = StrCat("http://127.0.0.1:", port);
        break;
      }
      int st;
      if (waitpid(serve_pid_, &st, WNOHANG) == serve_pid_) {
        serve_pid_ = -1;
        ADD_FAILURE() << "serve exited: " << ReadWholeFile(dir_ + "/serve.log");
        return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    token_ = std::string(StripWhitespace(ReadWholeFile(state_ + "/token")));
    ASSERT_FALSE(server_.empty()) << ReadWholeFile(dir_ + "/serve.log");
  }

  // SIGTERM, then wait (at most 60 s; SIGKILL after). Returns serve's exit
  // status (128 + the signal's number for a signal), -1 if it was not
  // running or had to be killed.
  static int StopServe() {
    if (serve_pid_ <= 0) return -1;
    kill(serve_pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 600; ++i) {
      if (waitpid(serve_pid_, &st, WNOHANG) == serve_pid_) {
        serve_pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    kill(serve_pid_, SIGKILL);
    waitpid(serve_pid_, &st, 0);
    serve_pid_ = -1;
    return -1;
  }

 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "the real daemon's tests need root (CI=true)";
      }
      GTEST_SKIP() << "the real daemon's tests need root";
    }
    ASSERT_GT(serve_pid_, 0) << "serve is not running";
  }

  // A client of serve presenting `token` ("" = none).
  api::Client ClientWithToken(std::string token) {
    api::ClientOptions o;
    o.server = server_;
    o.token = std::move(token);
    o.timeout = absl::Seconds(60);
    return api::Client(o);
  }

  inline static std::string dir_, base_, state_, config_, server_, token_;
  inline static std::string policy_template_;
  inline static std::vector<std::string> serve_flags_;
  inline static pid_t serve_pid_ = -1;
};

}  // namespace jailwarden
