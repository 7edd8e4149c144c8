#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jailwarden {

// expand_number(3) as FreeBSD's current libutil implements it: strtoumax with
// base 0 (so "0x10" and "010" are hex and octal), then an optional suffix
// b/k/m/g/t/p/e in either case multiplying by 1024^0..6, after k..e an extra
// trailing "b" is ignored ("1kb" == 1024). Leading white space and a sign
// are accepted as strtoumax does ("-1" wraps).
// Errors: InvalidArgument with errno EINVAL for an empty string, no digits
// or any other trailing character; OutOfRange with errno ERANGE on overflow.
absl::StatusOr<uint64_t> ExpandNumber(std::string_view text);

// humanize_number(buf, 6, number, "", HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE)
// as FreeBSD's libutil computes it: 1024-based, no space, at most 5
// characters, so up to 9999 stays unscaled, and one decimal for a mantissa
// below 9.5 once scaled (1023 -> "1023", 10000 -> "9.8K", 10240 -> "10K",
// 1073741824 -> "1024M", 10737418240 -> "10G"). This is what rctl(8) -h
// prints.
std::string HumanizeNumber(int64_t number);

}  // namespace jailwarden
