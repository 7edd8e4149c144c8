#include "jailwarden/rctl/user_form.h"

#include <grp.h>
#include <pwd.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "jailwarden/base/strings.h"
#include "jailwarden/base/units.h"

namespace jailwarden::rctl {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string_view> StrSep(std::optional<std::string_view>& rest,
                                       std::string_view delims) {
  if (!rest.has_value()) return std::nullopt;
  const std::string_view s = *rest;
  const std::size_t pos = s.find_first_of(delims);
  if (pos == std::string_view::npos) {
    rest.reset();
    return s;
  }
  rest = s.substr(pos + 1);
  return s.substr(0, pos);
}

// strtod(s, &end) with the whole string consumed, as parse_user/humanize_ids
// check it. Returns nullopt otherwise.
std::optional<double> WholeStrtod(std::string_view s) {
  const std::string copy(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(copy.c_str(), &end);
  if (static_cast<std::size_t>(end - copy.c_str()) != copy.size()) {
    return std::nullopt;
  }
  return v;
}

// id_t id = strtod(...); printf("%d", (int)id): a 64-bit integer id
// truncated to 32 bits.
int32_t IdAsPrintedInt(double v) {
  int64_t id = 0;
  if (std::isnan(v)) {
    id = 0;
  } else if (v >= 9.2e18) {
    id = INT64_MAX;
  } else if (v <= -9.2e18) {
    id = INT64_MIN;
  } else {
    id = static_cast<int64_t>(v);
  }
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(id)));
}

// rctl(8)'s parse_user / parse_group.
absl::StatusOr<int32_t> ParseId(std::string_view text, bool group,
                                const NameResolver& resolver) {
  std::optional<int64_t> by_name =
      group ? resolver.GidForName(text) : resolver.UidForName(text);
  if (by_name.has_value()) {
    return static_cast<int32_t>(static_cast<uint32_t>(*by_name));
  }
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    return absl::InvalidArgumentError(StrCat(
        "unknown ", group ? "group" : "user", " '", text, "'"));
  }
  std::optional<double> v = WholeStrtod(text);
  if (!v.has_value()) {
    return absl::InvalidArgumentError("trailing characters after numerical id");
  }
  return IdAsPrintedInt(*v);
}

// str2int64 in usr.bin/rctl/rctl.c: strtoul base 10, whole string.
std::optional<int64_t> UserStr2Int64(std::string_view s) {
  const std::string copy(s);
  char* end = nullptr;
  const unsigned long v = std::strtoul(copy.c_str(), &end, 10);
  if (static_cast<std::size_t>(end - copy.c_str()) != copy.size()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

class SystemResolver final : public NameResolver {
 public:
  std::optional<int64_t> UidForName(std::string_view name) const override {
    passwd pw{};
    passwd* result = nullptr;
    std::vector<char> buf(BufSize());
    const std::string n(name);
    if (getpwnam_r(n.c_str(), &pw, buf.data(), buf.size(), &result) != 0 ||
        result == nullptr) {
      return std::nullopt;
    }
    return pw.pw_uid;
  }
  std::optional<std::string> NameForUid(int64_t uid) const override {
    passwd pw{};
    passwd* result = nullptr;
    std::vector<char> buf(BufSize());
    if (getpwuid_r(static_cast<uid_t>(uid), &pw, buf.data(), buf.size(),
                   &result) != 0 ||
        result == nullptr) {
      return std::nullopt;
    }
    return std::string(pw.pw_name);
  }
  std::optional<int64_t> GidForName(std::string_view name) const override {
    group gr{};
    group* result = nullptr;
    std::vector<char> buf(BufSize());
    const std::string n(name);
    if (getgrnam_r(n.c_str(), &gr, buf.data(), buf.size(), &result) != 0 ||
        result == nullptr) {
      return std::nullopt;
    }
    return gr.gr_gid;
  }
  std::optional<std::string> NameForGid(int64_t gid) const override {
    group gr{};
    group* result = nullptr;
    std::vector<char> buf(BufSize());
    if (getgrgid_r(static_cast<gid_t>(gid), &gr, buf.data(), buf.size(),
                   &result) != 0 ||
        result == nullptr) {
      return std::nullopt;
    }
    return std::string(gr.gr_name);
  }

 private:
  static std::size_t BufSize() {
    const long n = sysconf(_SC_GETPW_R_SIZE_MAX);
    return n > 0 ? static_cast<std::size_t>(n) * 4 : 16384;
  }
};

}  // namespace

const NameResolver& NameResolver::System() {
  static const SystemResolver* resolver = new SystemResolver();
  return *resolver;
}

absl::StatusOr<std::string> ExpandRule(std::string_view arg,
                                       const ExpandOptions& options) {
  const NameResolver& resolver =
      options.resolver != nullptr ? *options.resolver : NameResolver::System();
  // expand_rule(): subject aliases and ids.
  std::optional<std::string_view> rest_opt = arg;
  std::string_view subject = *StrSep(rest_opt, ":");
  const std::optional<std::string_view> textid = StrSep(rest_opt, ":");
  if (!textid.has_value()) {
    return absl::InvalidArgumentError("missing subject");
  }
  const std::string_view rest = rest_opt.value_or("");

  if (EqualsIgnoreCase(subject, "u")) {
    subject = "user";
  } else if (EqualsIgnoreCase(subject, "g")) {
    subject = "group";
  } else if (EqualsIgnoreCase(subject, "p")) {
    subject = "process";
  } else if (EqualsIgnoreCase(subject, "l") || EqualsIgnoreCase(subject, "c") ||
             EqualsIgnoreCase(subject, "class")) {
    subject = "loginclass";
  } else if (EqualsIgnoreCase(subject, "j")) {
    subject = "jail";
  }

  std::string resolved;
  const bool is_user = EqualsIgnoreCase(subject, "user");
  const bool is_group = EqualsIgnoreCase(subject, "group");
  if (options.resolve_names && (is_user || is_group) && !textid->empty()) {
    absl::StatusOr<int32_t> id = ParseId(*textid, is_group, resolver);
    if (!id.ok()) return id.status();
    resolved = StrCat(subject, ":", *id, ":", rest);
  } else {
    resolved = StrCat(subject, ":", *textid, ":", rest);
  }

  // expand_amount(): amounts through expand_number(3).
  std::optional<std::string_view> fields = std::string_view(resolved);
  const std::string_view f_subject = *StrSep(fields, ":");
  const std::optional<std::string_view> f_id = StrSep(fields, ":");
  const std::optional<std::string_view> f_resource = StrSep(fields, ":");
  const std::optional<std::string_view> f_action = StrSep(fields, "=/");
  const std::optional<std::string_view> f_amount = StrSep(fields, "/");
  const std::optional<std::string_view> f_per = fields;
  if (!f_amount.has_value() || f_amount->empty()) {
    return resolved;
  }
  absl::StatusOr<uint64_t> num = ExpandNumber(*f_amount);
  if (!num.ok()) {
    return absl::InvalidArgumentError(
        StrCat("invalid numeric value '", *f_amount, "'"));
  }
  std::string expanded =
      StrCat(f_subject, ":", f_id.value_or(""), ":",
                   f_resource.value_or(""), ":", f_action.value_or(""), "=", *num);
  if (f_per.has_value()) StrAppend(&expanded, "/", *f_per);
  return expanded;
}

std::string DisplayRule(std::string_view kernel_rule,
                        const DisplayOptions& options) {
  const NameResolver& resolver =
      options.resolver != nullptr ? *options.resolver : NameResolver::System();
  std::string rule(kernel_rule);
  if (!options.numeric_ids) {
    // humanize_ids()
    std::optional<std::string_view> rest_opt = std::string_view(rule);
    const std::string_view subject = *StrSep(rest_opt, ":");
    const std::optional<std::string_view> textid = StrSep(rest_opt, ":");
    if (textid.has_value()) {
      const std::string_view rest = rest_opt.value_or("");
      std::string id(*textid);
      const bool is_user = EqualsIgnoreCase(subject, "user");
      const bool is_group = EqualsIgnoreCase(subject, "group");
      if (is_user || is_group) {
        std::optional<double> v = WholeStrtod(*textid);
        if (v.has_value()) {
          const int64_t n = static_cast<int64_t>(IdAsPrintedInt(*v));
          std::optional<std::string> name =
              is_user ? resolver.NameForUid(n) : resolver.NameForGid(n);
          if (name.has_value()) id = *name;
        }
      }
      rule = StrCat(subject, ":", id, ":", rest);
    }
  }
  if (options.humanize) {
    // humanize_amount()
    std::optional<std::string_view> fields = std::string_view(rule);
    const std::string_view f_subject = *StrSep(fields, ":");
    const std::optional<std::string_view> f_id = StrSep(fields, ":");
    const std::optional<std::string_view> f_resource = StrSep(fields, ":");
    const std::optional<std::string_view> f_action = StrSep(fields, "=/");
    const std::optional<std::string_view> f_amount = StrSep(fields, "/");
    const std::optional<std::string_view> f_per = fields;
    if (f_amount.has_value() && !f_amount->empty()) {
      if (std::optional<int64_t> num = UserStr2Int64(*f_amount); num.has_value()) {
        std::string out = StrCat(
            f_subject, ":", f_id.value_or(""), ":", f_resource.value_or(""),
            ":", f_action.value_or(""), "=", HumanizeNumber(*num));
        if (f_per.has_value()) StrAppend(&out, "/", *f_per);
        return out;
      }
    }
  }
  return rule;
}

std::string DisplayUsagePair(std::string_view pair, bool humanize) {
  if (!humanize) return std::string(pair);
  const std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return std::string(pair);
  std::optional<int64_t> num = UserStr2Int64(pair.substr(eq + 1));
  if (!num.has_value()) return std::string(pair);
  return StrCat(pair.substr(0, eq), "=", HumanizeNumber(*num));
}

}  // namespace jailwarden::rctl
