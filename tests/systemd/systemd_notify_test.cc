// SystemdNotifier against a real AF_UNIX datagram socket standing where
// systemd's notification socket would be (NOTIFY_SOCKET), read back with
// recv: what libsystemd's sd_notify actually sends.

#include "service/systemd_notify.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {
namespace {

class NotifySocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-notify-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path_.c_str(), sizeof(sa.sun_path) - 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << strerror(errno);
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  // The next datagram, or "" when none arrives within 200 ms.
  std::string Next() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) != 1) {
      return "";
    }
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  void SetWatchdog(int64_t usec, pid_t pid) {
    setenv("WATCHDOG_USEC", StrCat(usec).c_str(), 1);
    setenv("WATCHDOG_PID", StrCat(pid).c_str(), 1);
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(NotifySocket, ReadyStatusAndStoppingReachTheSocket) {
  SystemdNotifier n = SystemdNotifier::FromEnvironment();
  ASSERT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_interval(), absl::ZeroDuration());
  ASSERT_TRUE(n.Ready("ready; 3 jails known").ok());
  EXPECT_EQ(Next(), "READY=1\nSTATUS=ready; 3 jails known");
  ASSERT_TRUE(n.Status("reloading").ok());
  EXPECT_EQ(Next(), "STATUS=reloading");
  ASSERT_TRUE(n.Stopping("stopping; jails keep running").ok());
  EXPECT_EQ(Next(), "STOPPING=1\nSTATUS=stopping; jails keep running");
  // Without a watchdog a tick sends nothing.
  EXPECT_FALSE(n.OnTick(absl::Now()));
  EXPECT_EQ(Next(), "");
}

TEST_F(NotifySocket, WatchdogOnlyWhileTicksProgressAtAQuarterOfTheInterval) {
  SetWatchdog(400000, getpid());  // WatchdogSec=400ms
  SystemdNotifier n = SystemdNotifier::FromEnvironment();
  ASSERT_EQ(n.watchdog_interval(), absl::Milliseconds(400));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // Ticks every 10 ms for 350 ms of tick time: one WATCHDOG=1 per 100 ms.
  int sent = 0;
  for (int i = 0; i <= 35; ++i) {
    if (n.OnTick(t0 + absl::Milliseconds(10 * i))) {
      ++sent;
    }
  }
  EXPECT_EQ(sent, 4);  // at 0, 100, 200, 300 ms
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Next(), "WATCHDOG=1");
  }
  // No tick, no keep-alive: nothing arrives however long the wait.
  EXPECT_EQ(Next(), "");
}

TEST_F(NotifySocket, WatchdogForAnotherPidIsIgnored) {
  SetWatchdog(400000, getpid() + 1);
  SystemdNotifier n = SystemdNotifier::FromEnvironment();
  EXPECT_EQ(n.watchdog_interval(), absl::ZeroDuration());
  EXPECT_FALSE(n.OnTick(absl::Now()));
}

TEST_F(NotifySocket, SocketGoneIsAnErrnoError) {
  SystemdNotifier n = SystemdNotifier::FromEnvironment();
  close(fd_);
  unlink(path_.c_str());
  fd_ = -1;
  const absl::Status s = n.Ready("x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("sd_notify"), std::string::npos) << s;
}

TEST(SystemdNotifier, WithoutNotifySocketEverythingIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  SystemdNotifier n = SystemdNotifier::FromEnvironment();
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.Ready("x").ok());
  EXPECT_TRUE(n.Stopping("x").ok());
  EXPECT_FALSE(n.OnTick(absl::Now()));
}

}  // namespace
}  // namespace jailwarden::service
