#include "jailwarden/jail/spec_codec.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <exception>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jail/internal/spec_json.h"

// nlohmann::json throws; only json::parse is called where it can, and it is
// caught here. Fields are read with explicit type checks so that an error
// names the field instead of quoting nlohmann's "[json.exception...]".

namespace jailwarden::jail {
namespace {

using nlohmann::json;
using platform::JailSpec;

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

const char* NetModeName(platform::NetworkMode m) {
  switch (m) {
    case platform::NetworkMode::kInherit:
      return "inherit";
    case platform::NetworkMode::kNew:
      return "new";
    case platform::NetworkMode::kVnet:
      return "vnet";
  }
  return "inherit";
}

// Reads the fields of one JSON object; `path` names it in errors ("spec",
// "spec.exec", "spec.mounts[2]").
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  absl::Status CheckObject() const {
    if (!object_.is_object()) {
      return absl::InvalidArgumentError(
          StrCat(path_, ": expected an object, got ", object_.type_name()));
    }
    return absl::OkStatus();
  }

  // InvalidArgument "spec.dryrun: unknown field; did you mean 'dry_run'?"
  // for the first member not in `keys` (a typo never passes silently).
  absl::Status Only(std::initializer_list<std::string_view> keys) const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      const std::string& key = it.key();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
        continue;
      }
      std::string_view best;
      std::size_t best_distance = 3;  // at most 2 edits away
      for (std::string_view k : keys) {
        if (const std::size_t d = EditDistance(key, k); d < best_distance) {
          best_distance = d;
          best = k;
        }
      }
      return absl::InvalidArgumentError(
          best.empty() ? StrCat(Path(key), ": unknown field")
                       : StrCat(Path(key), ": unknown field; did you mean '", best, "'?"));
    }
    return absl::OkStatus();
  }

  std::string Path(std::string_view key) const { return StrCat(path_, ".", key); }

  // The value at `key`, or nullptr when missing or null.
  const json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  absl::Status Required(const char* key) const {
    if (Find(key) == nullptr) {
      return absl::InvalidArgumentError(StrCat(Path(key), ": missing"));
    }
    return absl::OkStatus();
  }

  absl::Status String(const char* key, std::string* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    if (!v->is_string()) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected a string, got ", v->type_name()));
    }
    *out = v->get_ref<const std::string&>();
    return absl::OkStatus();
  }

  absl::Status Bool(const char* key, bool* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    if (!v->is_boolean()) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected true or false, got ", v->type_name()));
    }
    *out = v->get<bool>();
    return absl::OkStatus();
  }

  absl::Status Milliseconds(const char* key, absl::Duration* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    if (!v->is_number_integer()) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected an integer (milliseconds), got ", v->type_name()));
    }
    *out = absl::Milliseconds(v->get<int64_t>());
    return absl::OkStatus();
  }

  absl::Status Strings(const char* key, std::vector<std::string>* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    std::vector<std::string> list;
    bool ok = v->is_array();
    const char* got = v->type_name();
    for (std::size_t i = 0; ok && i < v->size(); ++i) {
      ok = (*v)[i].is_string();
      if (ok) {
        list.push_back((*v)[i].get<std::string>());
      } else {
        got = (*v)[i].type_name();
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected an array of strings, got ", got));
    }
    *out = std::move(list);
    return absl::OkStatus();
  }

  absl::Status StringMap(const char* key, std::map<std::string, std::string>* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    std::map<std::string, std::string> map;
    bool ok = v->is_object();
    const char* got = v->type_name();
    if (ok) {
      for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it.value().is_string()) {
          ok = false;
          got = it.value().type_name();
          break;
        }
        map[it.key()] = it.value().get<std::string>();
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected an object of strings, got ", got));
    }
    *out = std::move(map);
    return absl::OkStatus();
  }

  absl::Status Int(const char* key, int64_t* out) const {
    const json* v = Find(key);
    if (v == nullptr) {
      return absl::OkStatus();
    }
    if (!v->is_number_integer()) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected an integer, got ", v->type_name()));
    }
    *out = v->get<int64_t>();
    return absl::OkStatus();
  }

  // The array at `key` (empty when missing).
  absl::StatusOr<std::vector<const json*>> Array(const char* key) const {
    std::vector<const json*> items;
    const json* v = Find(key);
    if (v == nullptr) {
      return items;
    }
    if (!v->is_array()) {
      return absl::InvalidArgumentError(
          StrCat(Path(key), ": expected an array, got ", v->type_name()));
    }
    for (const json& item : *v) {
      items.push_back(&item);
    }
    return items;
  }

 private:
  const json& object_;
  std::string path_;
};

absl::Status ReadNetwork(const ObjectReader& spec, platform::NetworkSpec* n) {
  const json* v = spec.Find("network");
  if (v == nullptr) {
    return absl::OkStatus();
  }
  ObjectReader r(*v, spec.Path("network"));
  JW_RETURN_IF_ERROR(r.CheckObject());
  JW_RETURN_IF_ERROR(
      r.Only({"mode", "ip4_addresses", "ip6_addresses", "host_ip4", "interface"}));
  std::string mode = "inherit";
  JW_RETURN_IF_ERROR(r.String("mode", &mode));
  if (mode == "new") {
    n->mode = platform::NetworkMode::kNew;
  } else if (mode == "vnet") {
    n->mode = platform::NetworkMode::kVnet;
  } else if (mode == "inherit" || mode.empty()) {
    n->mode = platform::NetworkMode::kInherit;
  } else {
    return absl::InvalidArgumentError(
        StrCat(r.Path("mode"), ": unknown value \"", mode, "\""));
  }
  JW_RETURN_IF_ERROR(r.Strings("ip4_addresses", &n->ip4_addresses));
  JW_RETURN_IF_ERROR(r.Strings("ip6_addresses", &n->ip6_addresses));
  JW_RETURN_IF_ERROR(r.String("host_ip4", &n->host_ip4));
  return r.String("interface", &n->interface);
}

absl::Status ReadMounts(const ObjectReader& spec, std::vector<platform::MountSpec>* out) {
  JW_ASSIGN_OR_RETURN(std::vector<const json*> items, spec.Array("mounts"));
  for (std::size_t i = 0; i < items.size(); ++i) {
    ObjectReader r(*items[i], StrCat(spec.Path("mounts"), "[", i, "]"));
    JW_RETURN_IF_ERROR(r.CheckObject());
    JW_RETURN_IF_ERROR(r.Only({"source", "target", "fstype", "read_only", "options"}));
    platform::MountSpec m;
    JW_RETURN_IF_ERROR(r.String("source", &m.source));
    JW_RETURN_IF_ERROR(r.Required("target"));
    JW_RETURN_IF_ERROR(r.String("target", &m.target));
    JW_RETURN_IF_ERROR(r.String("fstype", &m.fstype));
    JW_RETURN_IF_ERROR(r.Bool("read_only", &m.read_only));
    JW_RETURN_IF_ERROR(r.String("options", &m.options));
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::Status ReadCopies(const ObjectReader& spec, std::vector<platform::CopySpec>* out) {
  JW_ASSIGN_OR_RETURN(std::vector<const json*> items, spec.Array("copies"));
  for (std::size_t i = 0; i < items.size(); ++i) {
    ObjectReader r(*items[i], StrCat(spec.Path("copies"), "[", i, "]"));
    JW_RETURN_IF_ERROR(r.CheckObject());
    JW_RETURN_IF_ERROR(r.Only({"source", "target"}));
    platform::CopySpec c;
    JW_RETURN_IF_ERROR(r.Required("source"));
    JW_RETURN_IF_ERROR(r.String("source", &c.source));
    JW_RETURN_IF_ERROR(r.Required("target"));
    JW_RETURN_IF_ERROR(r.String("target", &c.target));
    out->push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status ReadExec(const ObjectReader& spec, platform::ExecSpec* e) {
  const json* v = spec.Find("exec");
  if (v == nullptr) {
    return absl::OkStatus();
  }
  ObjectReader r(*v, spec.Path("exec"));
  JW_RETURN_IF_ERROR(r.CheckObject());
  JW_RETURN_IF_ERROR(r.Only({"prepare", "prestart", "created", "start", "poststart",
                             "prestop", "stop", "poststop", "release", "clean",
                             "timeout_ms"}));
  JW_RETURN_IF_ERROR(r.Strings("prepare", &e->prepare));
  JW_RETURN_IF_ERROR(r.Strings("prestart", &e->prestart));
  JW_RETURN_IF_ERROR(r.Strings("created", &e->created));
  JW_RETURN_IF_ERROR(r.Strings("start", &e->start));
  JW_RETURN_IF_ERROR(r.Strings("poststart", &e->poststart));
  JW_RETURN_IF_ERROR(r.Strings("prestop", &e->prestop));
  JW_RETURN_IF_ERROR(r.Strings("stop", &e->stop));
  JW_RETURN_IF_ERROR(r.Strings("poststop", &e->poststop));
  JW_RETURN_IF_ERROR(r.Strings("release", &e->release));
  JW_RETURN_IF_ERROR(r.Bool("clean", &e->clean));
  return r.Milliseconds("timeout_ms", &e->timeout);
}

// ---- command / restart / log (issue 17) ----

const char* RestartName(platform::RestartPolicy p) {
  switch (p) {
    case platform::RestartPolicy::kNo:
      return "no";
    case platform::RestartPolicy::kOnFailure:
      return "on-failure";
    case platform::RestartPolicy::kAlways:
      return "always";
  }
  return "on-failure";
}

absl::Status ReadMain(const ObjectReader& spec, platform::MainSpec* m) {
  const json* v = spec.Find("main");
  if (v == nullptr) {
    return absl::OkStatus();
  }
  ObjectReader r(*v, spec.Path("main"));
  JW_RETURN_IF_ERROR(r.CheckObject());
  JW_RETURN_IF_ERROR(r.Only({"argv", "restart", "backoff_initial_ms", "backoff_max_ms",
                             "limit_count", "limit_window_ms"}));
  JW_RETURN_IF_ERROR(r.Strings("argv", &m->argv));
  std::string restart = RestartName(m->restart);
  JW_RETURN_IF_ERROR(r.String("restart", &restart));
  if (restart == "no") {
    m->restart = platform::RestartPolicy::kNo;
  } else if (restart == "on-failure") {
    m->restart = platform::RestartPolicy::kOnFailure;
  } else if (restart == "always") {
    m->restart = platform::RestartPolicy::kAlways;
  } else {
    return absl::InvalidArgumentError(
        StrCat(r.Path("restart"), ": expected no, on-failure or always, got '", restart, "'"));
  }
  JW_RETURN_IF_ERROR(r.Milliseconds("backoff_initial_ms", &m->backoff_initial));
  JW_RETURN_IF_ERROR(r.Milliseconds("backoff_max_ms", &m->backoff_max));
  int64_t count = m->limit_count;
  JW_RETURN_IF_ERROR(r.Int("limit_count", &count));
  if (count < 0 || count > 1000000) {
    return absl::InvalidArgumentError(StrCat(r.Path("limit_count"), ": out of range"));
  }
  m->limit_count = static_cast<int>(count);
  return r.Milliseconds("limit_window_ms", &m->limit_window);
}

absl::Status ReadLog(const ObjectReader& spec, platform::LogSpec* l) {
  const json* v = spec.Find("log");
  if (v == nullptr) {
    return absl::OkStatus();
  }
  ObjectReader r(*v, spec.Path("log"));
  JW_RETURN_IF_ERROR(r.CheckObject());
  JW_RETURN_IF_ERROR(r.Only({"max_size", "max_files"}));
  JW_RETURN_IF_ERROR(r.Int("max_size", &l->max_size));
  int64_t files = l->max_files;
  JW_RETURN_IF_ERROR(r.Int("max_files", &files));
  if (l->max_size <= 0 || files < 1 || files > 1000) {
    return absl::InvalidArgumentError(StrCat(spec.Path("log"), ": out of range"));
  }
  l->max_files = static_cast<int>(files);
  return absl::OkStatus();
}

// ---- end command / restart / log ----

}  // namespace

namespace internal {

std::string JsonExceptionText(const std::exception& e) {
  std::string_view what = e.what();
  constexpr std::string_view kTag = "[json.exception.";
  if (what.substr(0, kTag.size()) == kTag) {
    if (const std::size_t end = what.find("] "); end != std::string_view::npos) {
      what.remove_prefix(end + 2);
    }
  }
  return std::string(what);
}

json SpecToJsonValue(const JailSpec& s) {
  json mounts = json::array();
  for (const platform::MountSpec& m : s.mounts) {
    mounts.push_back({{"source", m.source},
                      {"target", m.target},
                      {"fstype", m.fstype},
                      {"read_only", m.read_only},
                      {"options", m.options}});
  }
  json copies = json::array();
  for (const platform::CopySpec& c : s.copies) {
    copies.push_back({{"source", c.source}, {"target", c.target}});
  }
  const platform::ExecSpec& e = s.exec;
  json out = json{
      {"name", s.name},
      {"path", s.path},
      {"hostname", s.hostname},
      {"base_root", s.base_root},
      {"network",
       {{"mode", NetModeName(s.network.mode)},
        {"ip4_addresses", s.network.ip4_addresses},
        {"ip6_addresses", s.network.ip6_addresses},
        {"host_ip4", s.network.host_ip4},
        {"interface", s.network.interface}}},
      {"mounts", mounts},
      {"copies", copies},
      {"exec",
       {{"prepare", e.prepare},
        {"prestart", e.prestart},
        {"created", e.created},
        {"start", e.start},
        {"poststart", e.poststart},
        {"prestop", e.prestop},
        {"stop", e.stop},
        {"poststop", e.poststop},
        {"release", e.release},
        {"clean", e.clean},
        {"timeout_ms", Ms(e.timeout)}}},
      {"depend", s.depend},
      {"persist", s.persist},
      {"stop_timeout_ms", Ms(s.stop_timeout)},
      {"parameters", s.parameters},
  };
  // command / restart / log (issue 17): written only when set, so the
  // records of jails without them read as before.
  if (!s.main.argv.empty()) {
    out["main"] = json{{"argv", s.main.argv},
                       {"restart", RestartName(s.main.restart)},
                       {"backoff_initial_ms", Ms(s.main.backoff_initial)},
                       {"backoff_max_ms", Ms(s.main.backoff_max)},
                       {"limit_count", s.main.limit_count},
                       {"limit_window_ms", Ms(s.main.limit_window)}};
  }
  if (!s.template_name.empty()) out["template"] = s.template_name;
  if (s.log != platform::LogSpec{}) {
    out["log"] = json{{"max_size", s.log.max_size}, {"max_files", s.log.max_files}};
  }
  return out;
}

absl::StatusOr<JailSpec> SpecFromJsonValue(const json& j) {
  ObjectReader r(j, "spec");
  JW_RETURN_IF_ERROR(r.CheckObject());
  JW_RETURN_IF_ERROR(r.Only({"name", "path", "hostname", "base_root", "network", "mounts",
                             "copies", "exec", "depend", "persist", "stop_timeout_ms",
                             "parameters", "main", "log", "template"}));
  JailSpec s;
  JW_RETURN_IF_ERROR(r.Required("name"));
  JW_RETURN_IF_ERROR(r.String("name", &s.name));
  JW_RETURN_IF_ERROR(r.String("path", &s.path));
  JW_RETURN_IF_ERROR(r.String("hostname", &s.hostname));
  JW_RETURN_IF_ERROR(r.String("base_root", &s.base_root));
  JW_RETURN_IF_ERROR(ReadNetwork(r, &s.network));
  JW_RETURN_IF_ERROR(ReadMounts(r, &s.mounts));
  JW_RETURN_IF_ERROR(ReadCopies(r, &s.copies));
  JW_RETURN_IF_ERROR(ReadExec(r, &s.exec));
  JW_RETURN_IF_ERROR(r.Strings("depend", &s.depend));
  JW_RETURN_IF_ERROR(r.Bool("persist", &s.persist));
  JW_RETURN_IF_ERROR(r.Milliseconds("stop_timeout_ms", &s.stop_timeout));
  JW_RETURN_IF_ERROR(r.StringMap("parameters", &s.parameters));
  JW_RETURN_IF_ERROR(ReadMain(r, &s.main));
  JW_RETURN_IF_ERROR(ReadLog(r, &s.log));
  JW_RETURN_IF_ERROR(r.String("template", &s.template_name));
  return s;
}

}  // namespace internal

std::string SpecToJson(const JailSpec& spec) {
  return internal::SpecToJsonValue(spec).dump(2) + "\n";
}

absl::StatusOr<JailSpec> SpecFromJson(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        StrCat("config.json: ", internal::JsonExceptionText(e)));
  }
  return internal::SpecFromJsonValue(j);
}

}  // namespace jailwarden::jail
