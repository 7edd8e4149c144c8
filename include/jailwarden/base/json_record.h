#pragma once

// Versioned JSON records that jailwarden writes to its state directory
// (the operation journal, the runtime rules): one reader so that every
// record refuses damage with the same kind of error. Thread-safe (no state).

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden {

// absl::DataLossError "<where>: <why>": a record on disk that cannot be
// what jailwarden wrote.
absl::Status RecordDataLoss(std::string_view where, std::string_view why);

// Parses `text` as a JSON object whose integer "version" equals `version`.
// Errors: DataLoss naming `where` for a parse error (nlohmann's message), a
// value that is not an object, or a missing or different version.
absl::StatusOr<nlohmann::json> ParseVersionedRecord(std::string_view text,
                                                    std::string_view where,
                                                    int64_t version);

}  // namespace jailwarden
