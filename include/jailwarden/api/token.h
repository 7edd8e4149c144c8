#pragma once

// The bearer token that guards every state-changing API request: 32 random
// bytes (getrandom(2)) written as 64 hex digits to a 0600 file the daemon
// creates at first start; the CLI reads it (as root) or takes it from
// --token / JAILWARDEN_TOKEN.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jailwarden::api {

// Reads the token at `path`, creating the file (and its directory, 0700)
// with a fresh token when missing. FailedPrecondition if an existing file
// can be read or written by group or others (its mode is in the message),
// InvalidArgument if it holds no token, errno statuses for I/O errors.
absl::StatusOr<std::string> LoadOrCreateToken(const std::string& path);

// Reads an existing token file (trailing white space stripped). NotFound,
// PermissionDenied (errno statuses) when it cannot be read; EFBIG "token
// file PATH: larger than 4096 bytes ..." for a longer file (/dev/zero);
// InvalidArgument when it holds no token or a byte that is not printable
// ASCII (it would corrupt the Authorization header).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Compares in time that depends only on the lengths, so a caller cannot
// learn a prefix of the token by timing.
bool TokensEqual(std::string_view a, std::string_view b);

// True when `authorization` (an Authorization header's value) is
// "Bearer <token>" (surrounding white space ignored), compared with
// TokensEqual.
bool BearerMatches(std::string_view authorization, std::string_view token);

// A new random token: 64 lowercase hex digits.
absl::StatusOr<std::string> NewToken();

}  // namespace jailwarden::api
