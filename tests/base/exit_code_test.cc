#include "jailwarden/base/exit_code.h"

#include <sysexits.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden {
namespace {

TEST(ExitCodeTest, OkIsExOk) { EXPECT_EQ(ExitCodeFor(absl::OkStatus()), EX_OK); }

TEST(ExitCodeTest, RefusedConfigurationIsExConfig) {
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("policy.yaml:2:11: bad port")),
            EX_CONFIG);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("server.listen is empty")),
            EX_CONFIG);
}

TEST(ExitCodeTest, PermissionAndTokenAreExNoperm) {
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("bad bearer token")), EX_NOPERM);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("needs a token")), EX_NOPERM);
  EXPECT_EQ(ExitCodeFor(ErrnoStatus(EPERM, "jail_set")), EX_NOPERM);
}

TEST(ExitCodeTest, UnreachableOrUnsupportedIsExUnavailable) {
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("cannot connect")), EX_UNAVAILABLE);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("timed out")), EX_UNAVAILABLE);
  EXPECT_EQ(ExitCodeFor(absl::UnimplementedError("RACCT disabled")), EX_UNAVAILABLE);
}

TEST(ExitCodeTest, BugsAreExSoftware) {
  EXPECT_EQ(ExitCodeFor(absl::InternalError("backend has no runtime")), EX_SOFTWARE);
  EXPECT_EQ(ExitCodeFor(absl::UnknownError("?")), EX_SOFTWARE);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("not an HTTP response")), EX_SOFTWARE);
}

TEST(ExitCodeTest, FailedOperationIsOneAsRctl) {
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("no jail named 'ghost'")), 1);
  EXPECT_EQ(ExitCodeFor(ErrnoStatus(ESRCH, "rctl_remove_rule")), 1);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("exists")), 1);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("too many")), 1);
}

}  // namespace
}  // namespace jailwarden
