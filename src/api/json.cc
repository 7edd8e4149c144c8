#include "api/json.h"

#include <algorithm>
#include <exception>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

// Line and column (1-based) of byte offset `pos` in `text`.
void LineColumn(std::string_view text, std::size_t pos, int* line, int* col) {
  *line = 1;
  *col = 1;
  for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++*line;
      *col = 1;
    } else {
      ++*col;
    }
  }
}

const Json* Member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// "field 'argv': expected a list of strings, got number".
absl::Status TypeError(std::string_view key, std::string_view type,
                       const Json& got) {
  return absl::InvalidArgumentError(ToAbsl(
      StrCat("field '", key, "': expected ", type, ", got ", got.type_name())));
}

}  // namespace

absl::StatusOr<Json> ParseJson(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based: the position of the offending character.
    const std::size_t pos = e.byte == 0 ? 0 : e.byte - 1;
    int line = 0, col = 0;
    LineColumn(text, pos, &line, &col);
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2:
    // syntax error while parsing value - ..." : keep the part after the
    // last ": " prefix chain's "parse error ...: ".
    if (const std::size_t p = what.find("error while parsing");
        p != std::string::npos) {
      what = what.substr(p);
    }
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("malformed JSON at line ", line, ", column ", col, ": ", what)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("malformed JSON: ", e.what())));
  }
}

std::string DumpJson(const Json& value, int indent) {
  try {
    return value.dump(indent, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception& e) {
    // Only allocation failures can get here.
    return StrCat("{\"error\":\"cannot serialize: ", e.what(), "\"}");
  }
}

absl::Status ReadString(const Json& object, std::string_view key,
                        std::string* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) return absl::OkStatus();
  if (!m->is_string()) return TypeError(key, "a string", *m);
  *out = m->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& object, std::string_view key, bool* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) return absl::OkStatus();
  if (!m->is_boolean()) return TypeError(key, "true or false", *m);
  *out = m->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadInt(const Json& object, std::string_view key, int64_t* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) return absl::OkStatus();
  if (m->is_number_unsigned()) {
    const uint64_t v = m->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return TypeError(key, "an integer", *m);
    *out = static_cast<int64_t>(v);
    return absl::OkStatus();
  }
  if (!m->is_number_integer()) return TypeError(key, "an integer", *m);
  *out = m->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadStringList(const Json& object, std::string_view key,
                            std::vector<std::string>* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) return absl::OkStatus();
  if (!m->is_array()) return TypeError(key, "a list of strings", *m);
  std::vector<std::string> values;
  for (const Json& v : *m) {
    if (!v.is_string()) return TypeError(key, "a list of strings", v);
    values.push_back(v.get_ref<const std::string&>());
  }
  *out = std::move(values);
  return absl::OkStatus();
}

absl::Status ReadStringMap(const Json& object, std::string_view key,
                           std::map<std::string, std::string>* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) return absl::OkStatus();
  if (!m->is_object()) return TypeError(key, "an object of strings", *m);
  std::map<std::string, std::string> values;
  for (auto it = m->begin(); it != m->end(); ++it) {
    if (!it.value().is_string()) return TypeError(key, "an object of strings", it.value());
    values[it.key()] = it.value().get_ref<const std::string&>();
  }
  *out = std::move(values);
  return absl::OkStatus();
}

absl::Status ReadObject(const Json& object, std::string_view key, Json* out) {
  const Json* m = Member(object, key);
  if (m == nullptr) {
    *out = nullptr;
    return absl::OkStatus();
  }
  if (!m->is_object()) return TypeError(key, "an object", *m);
  *out = *m;
  return absl::OkStatus();
}

std::string SuggestField(std::string_view key,
                         const std::vector<std::string_view>& allowed) {
  std::string best;
  std::size_t best_distance = 3;  // at most 2 edits away
  for (std::string_view a : allowed) {
    const std::size_t d = EditDistance(AsciiToLower(key), a);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(a);
    }
  }
  return best;
}

absl::Status RejectUnknownFields(const Json& object,
                                 const std::vector<std::string_view>& allowed,
                                 std::string_view where) {
  if (!object.is_object()) return absl::OkStatus();
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string message =
        StrCat("unknown field '", where, "/", key, "' in the request body");
    if (const std::string s = SuggestField(key, allowed); !s.empty()) {
      StrAppend(&message, "; did you mean '", s, "'?");
    } else {
      StrAppend(&message, "; expected ", Join(allowed, ", "));
    }
    return absl::InvalidArgumentError(ToAbsl(message));
  }
  return absl::OkStatus();
}

absl::Status RequireObject(const Json& value, std::string_view what) {
  if (value.is_object()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      ToAbsl(StrCat(what, " must be a JSON object")));
}

}  // namespace jailwarden::api
