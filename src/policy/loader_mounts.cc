// internal::Loader: a jail's mount: and copy: lists.

#include <algorithm>
#include <iterator>

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ReadMounts(const YamlNode& value, const std::string& what,
                        const std::string& context,
                        std::vector<platform::MountSpec>* out, JailExtras* x) {
  if (!value.IsSequence()) {
    ErrorOnce(value.position,
              StrCat(what,
                     ": expected a list of {source, target, fstype, "
                     "read_only, options}, got ",
                     Found(value)),
              x);
    return;
  }
  for (const YamlNode& item : value.items) {
    const std::string entry = StrCat("mount entry in ", context);
    if (!ExpectMap(item, entry, x)) {
      continue;
    }
    CheckKeys(item, Keys(kMountKeys), entry);
    platform::MountSpec m;
    bool ok = true;
    const YamlNode* source = nullptr;
    for (const auto& [k, v] : item.entries) {
      if (!k.IsScalar() || v.IsNull()) {
        continue;
      }
      const std::string w = StrCat(Quote(k.scalar), " in ", entry);
      if (k.scalar == "source") {
        source = &v;
        if (auto s = GetString(v, w, x))
          m.source = *s;
        else
          ok = false;
      } else if (k.scalar == "target") {
        if (auto s = GetAbsolutePath(v, w, x))
          m.target = *s;
        else
          ok = false;
      } else if (k.scalar == "fstype") {
        if (auto s = GetString(v, w, x)) {
          if (std::find(std::begin(kMountTypes), std::end(kMountTypes), *s) ==
              std::end(kMountTypes)) {
            ErrorOnce(v.position,
                      StrCat(w,
                             ": expected one of nullfs, tmpfs, devfs, "
                             "procfs, fdescfs, got ",
                             Quote(*s)),
                      x);
            ok = false;
          } else {
            m.fstype = *s;
          }
        } else {
          ok = false;
        }
      } else if (k.scalar == "read_only") {
        if (auto b = GetBool(v, w, x))
          m.read_only = *b;
        else
          ok = false;
      } else if (k.scalar == "options") {
        if (auto s = GetString(v, w, x))
          m.options = *s;
        else
          ok = false;
      }
    }
    if (!ok) {
      continue;
    }
    if (item.Find("target") == nullptr) {
      ErrorOnce(item.position, StrCat(entry, ": 'target' is required"), x);
      continue;
    }
    if (m.fstype == "nullfs") {
      if (source == nullptr) {
        ErrorOnce(item.position,
                  StrCat(entry, ": 'source' is required for nullfs"), x);
        continue;
      }
      if (!StartsWith(m.source, "/")) {
        ErrorOnce(
            source->position,
            StrCat("'source' in ", entry,
                   ": expected an absolute host path, got ", Quote(m.source)),
            x);
        continue;
      }
    } else if (m.source.empty()) {
      m.source = m.fstype;
    }
    out->push_back(std::move(m));
  }
}

void Loader::ReadCopies(const YamlNode& value, const std::string& what,
                        const std::string& context,
                        std::vector<platform::CopySpec>* out, JailExtras* x) {
  if (!value.IsSequence()) {
    ErrorOnce(value.position,
              StrCat(what, ": expected a list of {source, target}, got ",
                     Found(value)),
              x);
    return;
  }
  for (const YamlNode& item : value.items) {
    const std::string entry = StrCat("copy entry in ", context);
    if (!ExpectMap(item, entry, x)) {
      continue;
    }
    CheckKeys(item, Keys(kCopyKeys), entry);
    platform::CopySpec c;
    bool ok = true;
    for (std::string_view field : kCopyKeys) {
      const YamlNode* v = item.Find(field);
      if (v == nullptr || v->IsNull()) {
        ErrorOnce(item.position,
                  StrCat(entry, ": ", Quote(field), " is required"), x);
        ok = false;
        continue;
      }
      auto p = GetAbsolutePath(*v, StrCat(Quote(field), " in ", entry), x);
      if (!p.has_value()) {
        ok = false;
      } else if (field == "source") {
        c.source = *p;
      } else {
        c.target = *p;
      }
    }
    if (ok) {
      out->push_back(std::move(c));
    }
  }
}

}  // namespace jailwarden::policy::internal
