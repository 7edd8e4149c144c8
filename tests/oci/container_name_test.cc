// The container's name for the daemon (oci/container_name.h): the
// annotation first, then conmon's --name when conmon creates this id.

#include "oci/container_name.h"

#include <gtest/gtest.h>

namespace jailwarden::oci {
namespace {

TEST(OciContainerNameTest, ConmonNameForItsOwnContainerOnly) {
  // conmon's argument vector as podman 4.3 builds it (captured on Debian 12).
  std::vector<std::string> argv = {"/usr/bin/conmon", "--api-version", "1", "-c", "f116f4",
                                   "-u", "f116f4", "-r", "/usr/bin/jailwarden-oci", "-b",
                                   "/var/lib/containers/f116f4/userdata", "-n", "web-1",
                                   "--exit-dir", "/run/exits"};
  EXPECT_EQ(ConmonName(argv, "f116f4"), "web-1");
  EXPECT_EQ(ConmonName(argv, "other"), "");  // not the container being created
  EXPECT_EQ(ConmonName({"conmon", "--cid=abc", "--name=db"}, "abc"), "db");
  EXPECT_EQ(ConmonName({"conmon", "--cid", "abc", "--name", "db"}, "abc"), "db");
  EXPECT_EQ(ConmonName({"conmon", "-c", "abc"}, "abc"), "");  // no name given
  EXPECT_EQ(ConmonName({"conmon", "-c", "abc", "-n"}, "abc"), "");  // truncated
}

TEST(OciContainerNameTest, AnnotationWins) {
  // The test binary's parent is no conmon: only the annotation names it.
  EXPECT_EQ(ContainerName({{"org.jailwarden.name", "cache"}}, "id1"), "cache");
  EXPECT_EQ(ContainerName({{"io.container.manager", "libpod"}}, "id1"), "");
}

}  // namespace
}  // namespace jailwarden::oci
