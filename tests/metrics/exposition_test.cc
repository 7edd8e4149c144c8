#include "metrics/exposition.h"

#include <zlib.h>

#include <string>

#include "fakes/gunzip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/metrics/collector.h"
#include "metrics/full_fixture.h"

namespace jailwarden::metrics {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;


TEST(ExpositionTest, NegotiatesOpenMetricsOnlyWhenPreferred) {
  // Prometheus 2.42's default scrape Accept header.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                            "q=0.5,*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text; version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text"), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat(""), ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat("*/*"), ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4"), ExpositionFormat::kClassic);
  // A version we do not speak, a q of 0, a lower q than text, garbage.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=0.0.1"),
            ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0"), ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat("text/plain,application/openmetrics-text;q=0.5"),
            ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=abc"), ExpositionFormat::kClassic);
  EXPECT_EQ(NegotiateFormat(",,;;=,"), ExpositionFormat::kClassic);
}

TEST(ExpositionTest, GzipOnlyWhenNamedWithPositiveQ) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("br, deflate"));
}

TEST(ExpositionTest, OpenMetricsNamesCountersWithoutTotalAndEndsWithEof) {
  const std::string classic =
      "# HELP a_total Things \"done\".\n# TYPE a_total counter\na_total{x=\"1\"} 3\n"
      "# HELP b_seconds Time.\n# TYPE b_seconds gauge\nb_seconds 1.5\n"
      "# TYPE c counter\nc 2\n"
      "# TYPE d untyped\nd 1\n"
      "# HELP e_bytes_per_second Rate.\n# TYPE e_bytes_per_second gauge\n"
      "e_bytes_per_second 9\n";
  std::string om;
  ClassicToOpenMetrics(classic, om);
  EXPECT_EQ(om,
            "# HELP a Things \\\"done\\\".\n# TYPE a counter\na_total{x=\"1\"} 3\n"
            "# HELP b_seconds Time.\n# TYPE b_seconds gauge\n# UNIT b_seconds seconds\n"
            "b_seconds 1.5\n"
            "# TYPE c unknown\nc 2\n"
            "# TYPE d unknown\nd 1\n"
            "# HELP e_bytes_per_second Rate.\n# TYPE e_bytes_per_second gauge\n"
            "# UNIT e_bytes_per_second bytes_per_second\ne_bytes_per_second 9\n"
            "# EOF\n");
}

TEST(ExpositionTest, OpenMetricsOfAFullRender) {
  testing::FullFixture fixture;
  MetricsCollector collector(fixture.Sources(), {.backend = "fake"});
  const std::string classic = collector.RenderText();
  std::string om;
  ClassicToOpenMetrics(classic, om);
  EXPECT_THAT(om, EndsWith("\n# EOF\n"));
  EXPECT_THAT(om, HasSubstr("# TYPE jail_cputime_seconds counter\n"
                            "# UNIT jail_cputime_seconds seconds\n"));
  EXPECT_THAT(om, HasSubstr("# TYPE jailwarden_rule_matches counter\n"));
  EXPECT_THAT(om, HasSubstr("\njailwarden_rule_matches_total{"));
  EXPECT_THAT(om, HasSubstr("# UNIT jailwarden_jail_limit_bytes bytes\n"));
  EXPECT_THAT(om, Not(HasSubstr("# TYPE jailwarden_rule_matches_total")));
  // Every sample line survives.
  std::size_t classic_samples = 0, om_samples = 0;
  for (char c : classic) classic_samples += c == '\n';
  for (std::string_view line : Split(om, '\n')) {
    om_samples += !line.empty() && line.front() != '#';
  }
  std::size_t classic_comments = 0;
  for (std::string_view line : Split(classic, '\n')) {
    classic_comments += !line.empty() && line.front() == '#';
  }
  EXPECT_EQ(om_samples, classic_samples - classic_comments);
}

TEST(ExpositionTest, GzipRoundTrips) {
  testing::FullFixture fixture;
  MetricsCollector collector(fixture.Sources(), {.backend = "fake"});
  const std::string text = collector.RenderText();
  std::string gz;
  ASSERT_TRUE(Gzip(text, gz).ok());
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_LT(gz.size(), text.size() / 4);
  EXPECT_EQ(fakes::Gunzip(gz), text);
  std::string empty;
  ASSERT_TRUE(Gzip("", empty).ok());
  EXPECT_EQ(fakes::Gunzip(empty), "");
}

}  // namespace
}  // namespace jailwarden::metrics
