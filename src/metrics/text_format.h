#pragma once

// Pieces of Prometheus' classic text exposition (format 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/), appended to
// a std::string without temporary strings. Pure; thread-compatible.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace jailwarden::metrics::text {

// "# HELP <name> <help>\n# TYPE <name> <type>\n". `help` must not contain a
// newline or backslash (ours are literals).
void AppendFamilyHeader(std::string& out, std::string_view name,
                        std::string_view help, std::string_view type);

// Appends `value` escaped for a label value: backslash, double quote and
// newline become \\, \" and \n.
void AppendEscapedLabelValue(std::string& out, std::string_view value);

// Appends <name>="<escaped value>".
void AppendLabel(std::string& out, std::string_view name, std::string_view value);

void AppendInt(std::string& out, int64_t value);
void AppendUint(std::string& out, uint64_t value);

// `value` / 10^decimals as an exact decimal, trailing zeros trimmed
// (AppendFixed(1500000, 6) -> "1.5", AppendFixed(-5, 6) -> "-0.000005").
void AppendFixed(std::string& out, int64_t value, int decimals);

// Seconds with nanosecond resolution.
void AppendSeconds(std::string& out, absl::Duration d);

// Unix time in seconds with nanosecond resolution.
void AppendUnixSeconds(std::string& out, absl::Time t);

// A kernel-unit value in its usage family's unit: values kept in millions
// (cputime µs, pcpu) as an exact decimal of six places, others as integers.
void AppendKernelValue(std::string& out, int64_t value, bool in_millions);

// Starts one sample line: "<name>{<labels>} " ("<name> " without labels);
// the caller appends the value and the newline.
void BeginSample(std::string& out, std::string_view name, std::string_view labels);

// Whole sample lines: "<name>{<labels>} <value>\n".
void SampleUint(std::string& out, std::string_view name, std::string_view labels,
                uint64_t value);
void SampleSeconds(std::string& out, std::string_view name, std::string_view labels,
                   absl::Duration value);

}  // namespace jailwarden::metrics::text
