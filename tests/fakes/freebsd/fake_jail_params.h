#pragma once

// The jail parameters FakeFreeBsdKernel knows, as libjail learns them from
// the security.jail.param sysctls, and libjail's "no" prefix for booleans.
// Private to tests/fakes/freebsd/. Thread-safe (constant tables).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jailwarden::platform::fake_jail {

// How libjail converts a parameter's value (jailparam_import).
enum class ParamType : uint8_t { kInt, kString, kBool, kJailsys, kIp4, kIp6, kReadOnly };

// The jail parameters the fake knows (jail(8) §11.4); anything else is
// "unknown parameter" as libjail says when security.jail.param has no
// such entry.
std::optional<ParamType> LookupParam(std::string_view name);

// "nopersist" -> ("persist", false); "allow.nomount" -> ("allow.mount",
// false): libjail accepts "no" before the last name component.
std::pair<std::string, bool> SplitNoPrefix(std::string_view name);

// Whether an allow.* boolean reads as true in a jail that never set it
// (the defaults the fake assumes for a new prison).
bool DefaultAllow(std::string_view name);

}  // namespace jailwarden::platform::fake_jail
