// Root-only: jail networking. vnet jails get a veth pair on a link-local
// /30 chosen only after reading the host's routes and addresses; traffic
// goes only to the veth peer, with bounded ping counts.

#include <unistd.h>

#include <cstdint>
#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/link_local.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class JailNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("net");
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    routes_before_ = HostShell("ip -4 route show table all").out;
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent, /*check_interfaces=*/true);
      EXPECT_EQ(HostShell("ip -4 route show table all").out, routes_before_);
    }
    RemoveTree(ws_.top);
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::string routes_before_;
  std::unique_ptr<jail::Manager> manager_;
};

TEST_F(JailNetTest, VnetReachesItsPeerOverVeth) {
  std::string prefix = PickLinkLocalSubnet();
  ASSERT_FALSE(prefix.empty()) << "no free 169.254.N.0/30";
  platform::JailSpec s;
  s.name = "vnet1";
  s.path = ws_.CopyRoot("vnet1");
  s.persist = true;
  s.network.mode = platform::NetworkMode::kVnet;
  s.network.ip4_addresses = {prefix + "2/30"};
  s.network.host_ip4 = prefix + "1/30";
  ASSERT_TRUE(manager_->Create(s).ok());
  absl::Status st = manager_->Start("vnet1");
  ASSERT_TRUE(st.ok()) << st;
  auto rec = manager_->Get("vnet1");
  std::string host_if = rec->instance.backend_state.at("veth.host");
  EXPECT_TRUE(PathExists("/sys/class/net/" + host_if));
  ShellResult links = JailShell(*manager_, "vnet1", "ip -o link | cut -d: -f2 | cut -d@ -f1");
  EXPECT_EQ(links.out, " lo\n eth0\n");
  ShellResult addr = JailShell(*manager_, "vnet1", "ip -4 -o addr show dev eth0");
  EXPECT_THAT(addr.out, HasSubstr(prefix + "2/30"));
  // Host -> jail and jail -> host, two packets each, one second at most each.
  ShellResult ping = HostShell("/bin/busybox ping -c 2 -W 1 " + prefix + "2 2>&1");
  EXPECT_EQ(ping.exit_code, 0) << ping.out;
  EXPECT_THAT(ping.out, HasSubstr("2 packets received"));
  ShellResult back = JailShell(*manager_, "vnet1", "ping -c 2 -W 1 " + prefix + "1 2>&1");
  EXPECT_EQ(back.exit_code, 0) << back.out;
  ASSERT_TRUE(manager_->Destroy("vnet1").ok());
  EXPECT_FALSE(PathExists("/sys/class/net/" + host_if));
}

TEST_F(JailNetTest, InheritSharesTheHostStackAndNewHasOnlyLoopback) {
  platform::JailSpec inherit;
  inherit.name = "inh1";
  inherit.path = ws_.CopyRoot("inh1");
  inherit.persist = true;
  platform::JailSpec fresh = inherit;
  fresh.name = "new1";
  fresh.path = ws_.CopyRoot("new1");
  fresh.network.mode = platform::NetworkMode::kNew;
  ASSERT_TRUE(manager_->Create(inherit).ok());
  ASSERT_TRUE(manager_->Create(fresh).ok());
  ASSERT_TRUE(manager_->Start("inh1").ok());
  ASSERT_TRUE(manager_->Start("new1").ok());
  std::string host_links = HostShell("ip -o link | cut -d: -f2 | cut -d@ -f1").out;
  EXPECT_EQ(JailShell(*manager_, "inh1", "ip -o link | cut -d: -f2 | cut -d@ -f1").out,
            host_links);
  EXPECT_EQ(JailShell(*manager_, "new1", "ip -o link | cut -d: -f2").out, " lo\n");
  EXPECT_THAT(JailShell(*manager_, "new1", "ip -o link show lo").out, HasSubstr("UP"));
  ASSERT_TRUE(manager_->Destroy("inh1").ok());
  ASSERT_TRUE(manager_->Destroy("new1").ok());
}

}  // namespace
}  // namespace jailwarden::testing
