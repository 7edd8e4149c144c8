#pragma once

// Content negotiation and encodings of /metrics: the classic text format
// 0.0.4 (what MetricsCollector renders) or, when the scraper asks, the same
// families in OpenMetrics 1.0.0 text; gzip when the scraper accepts it.
// Pure functions; thread-compatible. All zlib calls of the project are in
// exposition.cc.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace jailwarden::metrics {

enum class ExpositionFormat { kClassic, kOpenMetrics };

inline constexpr std::string_view kClassicContentType =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// From an Accept header (RFC 9110 §12.5.1): OpenMetrics when
// `application/openmetrics-text` (no version, or version=1.0.0) has q > 0
// and no lower a q than the best of text/plain, text/* and */*; classic
// otherwise (also for an empty or unparseable header). Prometheus' default
// Accept therefore gets OpenMetrics, curl's `*/*` the classic text.
ExpositionFormat NegotiateFormat(std::string_view accept);

// True when an Accept-Encoding header names gzip (or x-gzip) with q > 0.
bool AcceptsGzip(std::string_view accept_encoding);

// Rewrites a classic text exposition (ours plus prometheus-cpp's) as
// OpenMetrics 1.0.0 into `out` (cleared first): a counter family is named
// without its `_total` (its samples keep it; a counter whose samples lack
// `_total` becomes `unknown`, as does `untyped`), `# UNIT` follows `# TYPE`
// when the family name ends in a base unit (_seconds, _bytes, _percent,
// _ratio, _bytes_per_second, _ops_per_second), a double quote in HELP is
// escaped, and the text ends with `# EOF`. Sample lines are copied as they
// are (their syntax is common to both formats).
void ClassicToOpenMetrics(std::string_view classic, std::string& out);

// gzip (RFC 1952) of `in` into `out` (cleared first), at zlib's fastest
// level: /metrics is highly repetitive, so level 1 already compresses it
// well (a three-jail page: 26.7 kB to 5.1 kB) at a fraction of the CPU of
// the default level.
// InternalError with zlib's message if zlib fails (out of memory).
absl::Status Gzip(std::string_view in, std::string& out);

}  // namespace jailwarden::metrics
