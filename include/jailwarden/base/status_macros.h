#pragma once

// Debian 12's abseil (20220623) has no public RETURN_IF_ERROR /
// ASSIGN_OR_RETURN; these are ours, used everywhere.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define JW_STATUS_CONCAT_INNER_(a, b) a##b
#define JW_STATUS_CONCAT_(a, b) JW_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the calling function
// if it is not OK.
#define JW_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status jw_status_ = (expr);           \
    if (!jw_status_.ok()) {                       \
      return jw_status_;                          \
    }                                             \
  } while (false)

// `lhs` is assigned the value of `rexpr` (an absl::StatusOr<T>), or the
// calling function returns its status. `lhs` may be a declaration.
#define JW_ASSIGN_OR_RETURN(lhs, rexpr) \
  JW_ASSIGN_OR_RETURN_IMPL_(JW_STATUS_CONCAT_(jw_statusor_, __LINE__), lhs, rexpr)

#define JW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) {                                 \
    return std::move(statusor).status();                \
  }                                                     \
  lhs = *std::move(statusor)
