#include "jailwarden/base/units.h"

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "jailwarden/base/errno.h"

namespace jailwarden {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// strtoumax(text, &end, 0) with FreeBSD's behaviour: EINVAL when no digits
// were converted, ERANGE (value UINTMAX_MAX) on overflow, negation of the
// magnitude for a leading '-'. `consumed` is the index just past the number.
int StrToUmax(std::string_view text, uint64_t& value, std::size_t& consumed) {
  std::size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  int base = 10;
  if (i < text.size() && text[i] == '0') {
    if (i + 2 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') &&
        DigitValue(text[i + 2]) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  uint64_t acc = 0;
  bool any = false, overflow = false;
  for (; i < text.size(); ++i) {
    const int d = DigitValue(text[i]);
    if (d >= base) break;
    any = true;
    if (acc > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                  static_cast<uint64_t>(base)) {
      overflow = true;
    } else {
      acc = acc * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
  }
  if (!any) {
    consumed = 0;
    value = 0;
    return EINVAL;
  }
  consumed = i;
  if (overflow) {
    value = std::numeric_limits<uint64_t>::max();
    return ERANGE;
  }
  value = negative ? (~acc + 1) : acc;
  return 0;
}

}  // namespace

absl::StatusOr<uint64_t> ExpandNumber(std::string_view text) {
  // expand_number(3), lib/libutil/expand_number.c (FreeBSD 13+).
  uint64_t number = 0;
  std::size_t end = 0;
  if (int err = StrToUmax(text, number, end); err != 0) {
    return ErrnoStatus(err, "expand_number");
  }
  unsigned shift = 0;
  if (end == text.size()) {
    return number;
  }
  switch (std::tolower(static_cast<unsigned char>(text[end]))) {
    case 'e':
      shift = 60;
      break;
    case 'p':
      shift = 50;
      break;
    case 't':
      shift = 40;
      break;
    case 'g':
      shift = 30;
      break;
    case 'm':
      shift = 20;
      break;
    case 'k':
      shift = 10;
      break;
    case 'b':
      shift = 0;
      break;
    default:
      return ErrnoStatus(EINVAL, "expand_number");
  }
  ++end;
  // 'b' is an ignored suffix after every unit but 'b' itself.
  if (shift != 0 && end < text.size() &&
      std::tolower(static_cast<unsigned char>(text[end])) == 'b') {
    ++end;
  }
  if (end != text.size()) {
    return ErrnoStatus(EINVAL, "expand_number");
  }
  if (shift != 0 && ((number << shift) >> shift) != number) {
    return ErrnoStatus(ERANGE, "expand_number");
  }
  return number << shift;
}

std::string HumanizeNumber(int64_t number) {
  // humanize_number(buf, 6, number, "", HN_AUTOSCALE,
  //                 HN_DECIMAL | HN_NOSPACE), lib/libutil/humanize_number.c:
  // divisor 1024, cut-off ceil(.95 * 1024) = 973, room for 5 characters.
  constexpr std::size_t kLen = 6;
  constexpr int64_t kDivisor = 1024;
  constexpr int64_t kDivisorDecCut = 973;
  constexpr int kMaxScale = 6;
  static constexpr const char* kPrefixes[] = {"", "K", "M", "G", "T", "P", "E"};

  std::size_t baselen = 1;
  int sign = 1;
  // The C code negates an int64 in place; INT64_MIN stays negative there.
  // Work in unsigned magnitude to keep the same digits without UB.
  uint64_t quotient = static_cast<uint64_t>(number);
  if (number < 0) {
    sign = -1;
    quotient = ~quotient + 1;
    baselen += 2;
  } else {
    baselen += 1;
  }
  int64_t max = 1;
  for (std::size_t i = kLen - baselen; i-- > 0;) max *= 10;
  int64_t remainder = 0;
  int i = 0;
  for (; (quotient >= static_cast<uint64_t>(max) ||
          (quotient == static_cast<uint64_t>(max - 1) &&
           (remainder >= kDivisorDecCut || remainder >= kDivisor / 2))) &&
         i < kMaxScale;
       ++i) {
    remainder = static_cast<int64_t>(quotient % kDivisor);
    quotient /= kDivisor;
  }
  char buf[64];
  if (((quotient == 9 && remainder < kDivisorDecCut) || quotient < 9) && i > 0) {
    const int s1 = static_cast<int>(quotient) +
                   static_cast<int>((remainder * 10 + kDivisor / 2) / kDivisor / 10);
    const int s2 = static_cast<int>(((remainder * 10 + kDivisor / 2) / kDivisor) % 10);
    std::snprintf(buf, sizeof(buf), "%d.%d%s", sign * s1, s2, kPrefixes[i]);
  } else {
    const int64_t shown = static_cast<int64_t>(
        quotient + static_cast<uint64_t>((remainder + kDivisor / 2) / kDivisor));
    std::snprintf(buf, sizeof(buf), "%" PRId64 "%s", sign * shown, kPrefixes[i]);
  }
  // snprintf into the caller's 6-byte buffer keeps at most 5 characters.
  std::string out(buf);
  if (out.size() > kLen - 1) out.resize(kLen - 1);
  return out;
}

}  // namespace jailwarden
