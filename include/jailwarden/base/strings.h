#pragma once

// String helpers over std::string_view. Debian 12's abseil has its own
// absl::string_view (not std's), so absl::StrCat/StrSplit/SimpleAtoi do not
// take std::string_view; the project uses these instead.

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace jailwarden {
namespace strings_internal {

inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
inline void AppendPiece(std::string& out, bool b) { out.append(b ? "true" : "false"); }

template <typename T>
  requires(std::integral<T> && !std::same_as<T, char> && !std::same_as<T, bool>)
void AppendPiece(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// Floating point: shortest representation that round-trips.
template <typename T>
  requires std::floating_point<T>
void AppendPiece(std::string& out, T v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

}  // namespace strings_internal

// Appends every argument (strings, string_views, chars, integers, floats).
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::AppendPiece(*out, args), ...);
}

// Concatenates every argument into a new string.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

// Splits on every `sep`; keeps empty pieces ("a,,b" -> {"a","","b"};
// "" -> {""}). The views point into `text`.
std::vector<std::string_view> Split(std::string_view text, char sep);

// Splits on runs of ASCII white space; no empty pieces.
std::vector<std::string_view> SplitWhitespace(std::string_view text);

// Joins with `sep`.
std::string Join(const std::vector<std::string_view>& parts, std::string_view sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);

// Strips ASCII white space from both ends.
std::string_view StripWhitespace(std::string_view text);

bool StartsWith(std::string_view text, std::string_view prefix);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string AsciiToLower(std::string_view text);
// Levenshtein distance between a and b in bytes (insertions, deletions,
// substitutions): how far an unknown key is from a known one, for "did you
// mean" suggestions. O(|a|·|b|) time, O(|b|) memory.
std::size_t EditDistance(std::string_view a, std::string_view b);

// Parses a whole base-10 integer (optional leading '-', nothing else);
// nullopt on junk, empty input or overflow.
template <typename T>
  requires std::integral<T>
std::optional<T> ParseInt(std::string_view text) {
  T value{};
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value, 10);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Parses a whole floating-point number; nullopt on junk.
std::optional<double> ParseDouble(std::string_view text);

}  // namespace jailwarden
