#include "jailwarden/base/json_record.h"

#include <exception>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden {

absl::Status RecordDataLoss(std::string_view where, std::string_view why) {
  return absl::DataLossError(ToAbsl(StrCat(where, ": ", why)));
}

absl::StatusOr<nlohmann::json> ParseVersionedRecord(std::string_view text,
                                                    std::string_view where,
                                                    int64_t version) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    return RecordDataLoss(where, e.what());
  }
  if (!j.is_object()) return RecordDataLoss(where, "not a JSON object");
  const auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != version) {
    return RecordDataLoss(where, StrCat("\"version\" is not ", version));
  }
  return j;
}

}  // namespace jailwarden
