#include "jailwarden/service/runtime_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/json_record.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {
namespace {

using nlohmann::json;

// A record is a few rules per jail; anything larger is not one.
constexpr std::size_t kMaxRecordBytes = 64u << 20;

absl::StatusOr<std::vector<rctl::Rule>> RulesFrom(const json& j, const char* key,
                                                  std::string_view where) {
  std::vector<rctl::Rule> out;
  if (!j.contains(key)) return out;
  const json& list = j.at(key);
  if (!list.is_array()) return RecordDataLoss(where, StrCat("\"", key, "\" is not a list"));
  for (const json& item : list) {
    if (!item.is_string()) {
      return RecordDataLoss(where, StrCat("\"", key, "\" holds a non-string"));
    }
    const std::string text = item.get<std::string>();
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(text);
    if (!rule.ok()) {
      return RecordDataLoss(where, StrCat("\"", key, "\": rule '", text,
                                    "': ", ToStd(rule.status().message())));
    }
    out.push_back(*std::move(rule));
  }
  return out;
}


}  // namespace

std::string RuntimeRulesToJson(const RuntimeRules& rules) {
  std::string out = "{\"version\": 1,\n";
  auto list = [&out](const char* key, const std::vector<rctl::Rule>& rs, bool last) {
    StrAppend(&out, " \"", key, "\": [");
    for (std::size_t i = 0; i < rs.size(); ++i) {
      StrAppend(&out, i == 0 ? "\n  " : ",\n  ", json(rctl::FormatRule(rs[i])).dump());
    }
    StrAppend(&out, rs.empty() ? "]" : "\n ]", last ? "\n" : ",\n");
  };
  list("added", rules.added, false);
  list("removed", rules.removed, true);
  out += "}\n";
  return out;
}

absl::StatusOr<RuntimeRules> RuntimeRulesFromJson(std::string_view text,
                                                  std::string_view where) {
  JW_ASSIGN_OR_RETURN(json j, ParseVersionedRecord(text, where, 1));
  RuntimeRules out;
  absl::StatusOr<std::vector<rctl::Rule>> added = RulesFrom(j, "added", where);
  if (!added.ok()) return added.status();
  absl::StatusOr<std::vector<rctl::Rule>> removed = RulesFrom(j, "removed", where);
  if (!removed.ok()) return removed.status();
  out.added = *std::move(added);
  out.removed = *std::move(removed);
  return out;
}

absl::StatusOr<RuntimeRules> LoadRuntimeRules(const std::string& path) {
  const std::string tmp = StrCat(path, ".tmp");
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, StrCat("remove ", tmp));
  }
  absl::StatusOr<std::string> text = ReadFile(path, kMaxRecordBytes);
  if (!text.ok()) {
    if (StatusErrno(text.status()) == ENOENT) return RuntimeRules{};
    return text.status();
  }
  return RuntimeRulesFromJson(*text, path);
}


}  // namespace jailwarden::service
