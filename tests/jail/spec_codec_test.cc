#include "jailwarden/jail/spec_codec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::jail {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The message of SpecFromJson(text)'s error ("" when it parses).
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<platform::JailSpec> s = SpecFromJson(text);
  if (s.ok()) {
    return "";
  }
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), Not(HasSubstr("json.exception")));
  return std::string(s.status().message());
}

TEST(SpecCodecTest, WrongTypeNamesTheField) {
  EXPECT_EQ(ErrorOf(R"({"name": "a", "exec": {"start": "/bin/sh /etc/rc"}})"),
            "spec.exec.start: expected an array of strings, got string");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "exec": {"start": ["ok", 3]}})"),
            "spec.exec.start: expected an array of strings, got number");
  EXPECT_EQ(ErrorOf(R"({"name": 7})"), "spec.name: expected a string, got number");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "persist": "yes"})"),
            "spec.persist: expected true or false, got string");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "stop_timeout_ms": "10s"})"),
            "spec.stop_timeout_ms: expected an integer (milliseconds), got string");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "network": {"ip4_addresses": "10.0.0.1"}})"),
            "spec.network.ip4_addresses: expected an array of strings, got string");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "parameters": {"allow.mount": 1}})"),
            "spec.parameters: expected an object of strings, got number");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "mounts": [{"target": "/d", "read_only": 1}]})"),
            "spec.mounts[0].read_only: expected true or false, got number");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "mounts": {"target": "/d"}})"),
            "spec.mounts: expected an array, got object");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "exec": []})"), "spec.exec: expected an object, got array");
  EXPECT_EQ(ErrorOf(R"(["a"])"), "spec: expected an object, got array");
}

TEST(SpecCodecTest, UnknownFieldIsNamedWithASuggestion) {
  EXPECT_EQ(ErrorOf(R"({"name": "a", "persit": true})"),
            "spec.persit: unknown field; did you mean 'persist'?");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "colour": "red"})"), "spec.colour: unknown field");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "exec": {"strat": []}})"),
            "spec.exec.strat: unknown field; did you mean 'start'?");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "network": {"mod": "new"}})"),
            "spec.network.mod: unknown field; did you mean 'mode'?");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "mounts": [{"target": "/x", "ro": true}]})"),
            "spec.mounts[0].ro: unknown field");
}

TEST(SpecCodecTest, MissingRequiredFieldIsNamed) {
  EXPECT_EQ(ErrorOf(R"({"path": "/j/a"})"), "spec.name: missing");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "mounts": [{"target": "/x"}, {"source": "/s"}]})"),
            "spec.mounts[1].target: missing");
  EXPECT_EQ(ErrorOf(R"({"name": "a", "copies": [{"source": "/etc/hosts"}]})"),
            "spec.copies[0].target: missing");
}

TEST(SpecCodecTest, UnknownNetworkModeIsNamed) {
  EXPECT_EQ(ErrorOf(R"({"name": "a", "network": {"mode": "bridge"}})"),
            "spec.network.mode: unknown value \"bridge\"");
}

TEST(SpecCodecTest, ParseErrorGivesThePosition) {
  EXPECT_THAT(ErrorOf("{\"name\": "), HasSubstr("config.json: parse error at line 1, column 10"));
}

TEST(SpecCodecTest, NullTakesTheDefault) {
  absl::StatusOr<platform::JailSpec> s =
      SpecFromJson(R"({"name": "a", "path": null, "stop_timeout_ms": null, "exec": null})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->path, "");
  EXPECT_EQ(s->stop_timeout, absl::Seconds(10));
}

TEST(SpecCodecTest, MountDefaultsToNullfs) {
  absl::StatusOr<platform::JailSpec> s =
      SpecFromJson(R"({"name": "a", "mounts": [{"source": "/s", "target": "/t"}]})");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->mounts.size(), 1u);
  EXPECT_EQ(s->mounts[0].fstype, "nullfs");
  EXPECT_FALSE(s->mounts[0].read_only);
}

}  // namespace
}  // namespace jailwarden::jail
