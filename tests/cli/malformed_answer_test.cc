// A 200 answer whose body is not JSON (a proxy, or a process squatting the
// daemon's port): the CLI names the address and the parse error, exit 1,
// for the typed reads, apply and rctl. The "server" is a tiny HTTP/1.1
// responder on a loopback port in this process.

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "cli/daemon_verbs.h"
#include "cli/rctl_verb.h"
#include "fakes/loopback_http_page.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Output {
  int status = -1;
  std::string out, err;
};

template <typename Fn>
Output RunVerb(Fn fn, std::vector<std::string> args) {
  std::ostringstream out, err;
  CommandContext ctx{out, err};
  Output o;
  o.status = fn(args, ctx);
  o.out = out.str();
  o.err = err.str();
  return o;
}

class MalformedAnswerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("JAILWARDEN_TOKEN", "feedfacefeedfacefeedfacefeedface", 1);
    unsetenv("JAILWARDEN_SERVER");
    unsetenv("JAILWARDEN_CONFIG");
  }
};

TEST_F(MalformedAnswerTest, ListNamesTheAddressAndTheParseError) {
  fakes::LoopbackHttpPage squatter("<html><body>It works!</body></html>\n", "text/html");
  Output o = RunVerb(RunListVerb, {"--server", squatter.url()});
  EXPECT_EQ(o.status, 1);
  EXPECT_THAT(o.err, StartsWith(StrCat("jailwarden list: malformed JSON from ", squatter.url(),
                                       ": ")))
      << o.err;
  // The parser's own words, with the position.
  EXPECT_THAT(o.err, HasSubstr("line 1, column 1")) << o.err;
  EXPECT_EQ(o.out, "");
}

TEST_F(MalformedAnswerTest, ApplyAndRctlToo) {
  fakes::LoopbackHttpPage squatter("{\"changed\": tru", "text/html");
  char path[] = "/tmp/jw-malformed-XXXXXX.yaml";
  const int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  const std::string policy = "jails: {}\n";
  ASSERT_EQ(write(fd, policy.data(), policy.size()), static_cast<ssize_t>(policy.size()));
  close(fd);
  Output o = RunVerb(RunApplyVerb, {"--server", squatter.url(), "-f", path});
  unlink(path);
  EXPECT_EQ(o.status, 1);
  EXPECT_THAT(o.err, StartsWith(StrCat("jailwarden apply: malformed JSON from ", squatter.url(),
                                       ": ")))
      << o.err;

  // (A bare `rctl` exits 0 whatever happened, as rctl(8) does.)
  o = RunVerb(RunRctlVerb, {"--server", squatter.url(), "jail:db"});
  EXPECT_EQ(o.status, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr(StrCat("malformed JSON from ", squatter.url(),
                                      ": line 1, column 16: ")))
      << o.err;
}

}  // namespace
}  // namespace jailwarden::cli
