// The seven SysV IPC resources: limits are the jail's IPC-namespace
// sysctls, usage is read by a thread that joins the namespace.

#include "resources_env.h"

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;

TEST_F(ResourceTest, NmsgqIsMsgmni) {
  StartJail("rmsgq");
  std::string host_msgmni = ReadText("/proc/sys/kernel/msgmni");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "msgget", "3"});
    ASSERT_EQ(p.LineStarting("msgget"), "msgget made=3 errno=0");
    EXPECT_EQ(Get(Slow(), Resource::kNmsgq), 3);
    EXPECT_EQ(p.Finish(), 0);
  }
  EXPECT_EQ(Get(Slow(), Resource::kNmsgq), 0);
  auto e = Apply({"nmsgq:deny=5"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  ProbeRun p(*manager_, name_, {"msgget", "20"});
  EXPECT_EQ(p.LineStarting("msgget"), "msgget made=5 errno=28");
  EXPECT_EQ(p.Finish(), 0);
  EXPECT_EQ(ReadText("/proc/sys/kernel/msgmni"), host_msgmni) << "the host's value is untouched";
}

TEST_F(ResourceTest, MsgqqueuedAndMsgqsizeAreMsgmnbPerQueue) {
  StartJail("rmsgs");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "msgsnd", "100", "20"});
    ASSERT_EQ(p.LineStarting("msgsnd"), "msgsnd made=20 errno=0");
    platform::RawUsage u = Slow();
    EXPECT_EQ(Get(u, Resource::kMsgqqueued), 20);
    EXPECT_EQ(Get(u, Resource::kMsgqsize), 2000);
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"msgqqueued:deny=100"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  {
    ProbeRun p(*manager_, name_, {"msgsnd", "1", "1000"});
    EXPECT_EQ(p.LineStarting("msgsnd"), "msgsnd made=100 errno=11");  // EAGAIN
    EXPECT_EQ(p.Finish(), 0);
  }
  Apply({"msgqsize:deny=1000"});
  ProbeRun p(*manager_, name_, {"msgsnd", "100", "100"});
  EXPECT_EQ(p.LineStarting("msgsnd"), "msgsnd made=10 errno=11");
  EXPECT_EQ(p.Finish(), 0);
}

TEST_F(ResourceTest, NsemIsSemmnsAndNsemopIsSemopm) {
  StartJail("rsem");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "semget", "5", "2"});
    ASSERT_EQ(p.LineStarting("semget"), "semget made=2 errno=0");
    EXPECT_EQ(Get(Slow(), Resource::kNsem), 10);
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"nsem:deny=20", "nsemop:deny=8"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  EXPECT_EQ(e[1].fidelity, Fidelity::kExact);
  {
    ProbeRun p(*manager_, name_, {"semget", "5", "10"});
    EXPECT_EQ(p.LineStarting("semget"), "semget made=4 errno=28");
    EXPECT_EQ(p.Finish(), 0);
  }
  {
    ProbeRun p(*manager_, name_, {"semop", "16"});
    EXPECT_EQ(p.LineStarting("semop"), "semop nsops=16 errno=7");  // E2BIG
    EXPECT_EQ(p.Finish(), 0);
  }
  ProbeRun p(*manager_, name_, {"semop", "8"});
  EXPECT_EQ(p.LineStarting("semop"), "semop nsops=8 errno=0");
  EXPECT_EQ(p.Finish(), 0);
}

TEST_F(ResourceTest, NshmIsShmmniAndShmsizeIsShmall) {
  StartJail("rshm");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "shmget", "64", "2"});
    ASSERT_EQ(p.LineStarting("shmget"), "shmget made=2 errno=0");
    platform::RawUsage u = Slow();
    EXPECT_EQ(Get(u, Resource::kNshm), 2);
    EXPECT_EQ(Get(u, Resource::kShmsize), 2 * 64 * 1024);
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"nshm:deny=3"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  {
    ProbeRun p(*manager_, name_, {"shmget", "64", "10"});
    EXPECT_EQ(p.LineStarting("shmget"), "shmget made=3 errno=28");
    EXPECT_EQ(p.Finish(), 0);
  }
  e = Apply({"shmsize:deny=2097152"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  ProbeRun p(*manager_, name_, {"shmget", "1024", "10"});
  EXPECT_EQ(p.LineStarting("shmget"), "shmget made=2 errno=28");
  EXPECT_EQ(p.Finish(), 0);
}

}  // namespace
}  // namespace jailwarden::testing
