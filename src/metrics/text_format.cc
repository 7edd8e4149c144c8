#include "metrics/text_format.h"

#include <charconv>

namespace jailwarden::metrics::text {

void AppendFamilyHeader(std::string& out, std::string_view name,
                        std::string_view help, std::string_view type) {
  out.append("# HELP ");
  out.append(name);
  out.push_back(' ');
  out.append(help);
  out.append("\n# TYPE ");
  out.append(name);
  out.push_back(' ');
  out.append(type);
  out.push_back('\n');
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  // Jail names and rule texts almost never need escaping: copy runs.
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') {
      continue;
    }
    out.append(value.substr(start, i - start));
    out.push_back('\\');
    out.push_back(c == '\n' ? 'n' : c);
    start = i + 1;
  }
  out.append(value.substr(start));
}

void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append("=\"");
  AppendEscapedLabelValue(out, value);
  out.push_back('"');
}

void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

void AppendUint(std::string& out, uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

void AppendFixed(std::string& out, int64_t value, int decimals) {
  static constexpr uint64_t kPow10[] = {1,         10,         100,       1000,
                                        10000,     100000,     1000000,   10000000,
                                        100000000, 1000000000};
  if (decimals <= 0) {
    AppendInt(out, value);
    return;
  }
  const uint64_t scale = kPow10[decimals];
  // Magnitude without overflow for INT64_MIN.
  const uint64_t mag = value < 0 ? uint64_t{0} - static_cast<uint64_t>(value)
                                 : static_cast<uint64_t>(value);
  if (value < 0) {
    out.push_back('-');
  }
  AppendUint(out, mag / scale);
  uint64_t frac = mag % scale;
  if (frac == 0) {
    return;
  }
  int digits = decimals;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  char buf[16];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out.push_back('.');
  out.append(buf, static_cast<std::size_t>(digits));
}

void AppendSeconds(std::string& out, absl::Duration d) {
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    out.append(d > absl::ZeroDuration() ? "+Inf" : "-Inf");
    return;
  }
  AppendFixed(out, absl::ToInt64Nanoseconds(d), 9);
}

void AppendUnixSeconds(std::string& out, absl::Time t) {
  AppendFixed(out, absl::ToUnixNanos(t), 9);
}

namespace {
constexpr int kMillionsDecimals = 6;
}  // namespace

void AppendKernelValue(std::string& out, int64_t value, bool in_millions) {
  if (in_millions) {
    AppendFixed(out, value, kMillionsDecimals);
  } else {
    AppendInt(out, value);
  }
}

void BeginSample(std::string& out, std::string_view name, std::string_view labels) {
  out.append(name);
  if (!labels.empty()) {
    out.push_back('{');
    out.append(labels);
    out.push_back('}');
  }
  out.push_back(' ');
}

void SampleUint(std::string& out, std::string_view name, std::string_view labels,
                uint64_t value) {
  BeginSample(out, name, labels);
  AppendUint(out, value);
  out.push_back('\n');
}

void SampleSeconds(std::string& out, std::string_view name, std::string_view labels,
                   absl::Duration value) {
  BeginSample(out, name, labels);
  AppendSeconds(out, value);
  out.push_back('\n');
}

}  // namespace jailwarden::metrics::text
