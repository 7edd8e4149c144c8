#pragma once

#include <map>
#include <optional>
#include <string>

#include "jailwarden/rctl/user_form.h"

namespace jailwarden::testing_fakes {

// A passwd/group database for tests: users root=0, joe=1001, www=80;
// groups wheel=0, staff=20.
class FakeNameResolver final : public rctl::NameResolver {
 public:
  std::optional<int64_t> UidForName(std::string_view name) const override {
    return Find(users_, name);
  }
  std::optional<std::string> NameForUid(int64_t uid) const override {
    return FindName(users_, uid);
  }
  std::optional<int64_t> GidForName(std::string_view name) const override {
    return Find(groups_, name);
  }
  std::optional<std::string> NameForGid(int64_t gid) const override {
    return FindName(groups_, gid);
  }

 private:
  using Table = std::map<std::string, int64_t, std::less<>>;
  static std::optional<int64_t> Find(const Table& t, std::string_view name) {
    auto it = t.find(name);
    if (it == t.end()) return std::nullopt;
    return it->second;
  }
  static std::optional<std::string> FindName(const Table& t, int64_t id) {
    for (const auto& [name, value] : t) {
      if (value == id) return name;
    }
    return std::nullopt;
  }
  Table users_{{"root", 0}, {"joe", 1001}, {"www", 80}};
  Table groups_{{"wheel", 0}, {"staff", 20}};
};

}  // namespace jailwarden::testing_fakes
