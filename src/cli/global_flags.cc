#include "cli/global_flags.h"

#include <algorithm>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::cli {
namespace {

constexpr GlobalFlag kGlobalFlags[] = {
    {"-c,--config", true, "FILE",
     "policy file to take the daemon's address, token file and TLS pin from"},
    {"--server,--address", true, "URL",
     "daemon address: http(s)://HOST:PORT or unix:PATH"},
    {"--token", true, "TOKEN", "API bearer token"},
    {"--token-file", true, "FILE", "read the API token from FILE"},
    {"--cacert", true, "FILE", "verify the daemon's TLS certificate with this CA"},
    {"--pin", true, "PIN", "the daemon's public key pin, sha256//BASE64"},
    {"--json", false, "", "one JSON document on stdout instead of text"},
};

// "-c,--config" -> {"-c", "--config"}.
std::vector<std::string> NamesOf(const GlobalFlag& f) {
  std::vector<std::string> names;
  for (std::string_view n : Split(f.names, ',')) names.emplace_back(n);
  return names;
}

}  // namespace

std::span<const GlobalFlag> GlobalFlags() { return kGlobalFlags; }

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;  // at most 2
  for (const std::string& c : candidates) {
    std::size_t d = EditDistance(word, c);
    // Two letters swapped ("lsit", "stauts") is one slip, not two: it
    // beats a two-edit neighbour ("start") and passes for short words.
    std::string a(word), b(c);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (d == 2 && a == b) d = 1;
    if (d < best_distance && 2 * d < word.size() + 1) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

absl::StatusOr<SplitCommandLine> SplitAtVerb(const std::vector<std::string>& args) {
  SplitCommandLine split;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') break;  // the verb ("-" alone is not an option)
    if (a == "--help" || a == "-h") {
      split.help = true;
      continue;
    }
    if (a == "--version") {
      split.version = true;
      continue;
    }
    const std::size_t eq = a.find('=');
    const std::string name = StartsWith(a, "--") && eq != std::string::npos ? a.substr(0, eq) : a;
    const GlobalFlag* flag = nullptr;
    for (const GlobalFlag& f : kGlobalFlags) {
      for (const std::string& n : NamesOf(f)) {
        if (n == name) flag = &f;
      }
    }
    if (flag == nullptr) {
      std::vector<std::string> known = {"--help", "--version"};
      for (const GlobalFlag& f : kGlobalFlags) {
        for (std::string& n : NamesOf(f)) known.push_back(std::move(n));
      }
      std::string message = StrCat("unknown option '", name, "' before the verb");
      if (std::string s = Suggest(name, known); !s.empty()) {
        message = StrCat(message, "; did you mean '", s, "'?");
      }
      return absl::InvalidArgumentError(ToAbsl(message));
    }
    split.global.push_back(a);
    if (flag->takes_value && name == a) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            ToAbsl(StrCat("option '", a, "' needs a value (", flag->value_name, ")")));
      }
      split.global.push_back(args[++i]);
    } else if (!flag->takes_value && name != a) {
      return absl::InvalidArgumentError(ToAbsl(StrCat("option '", name, "' takes no value")));
    }
  }
  if (i < args.size()) {
    split.verb = args[i];
    split.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  }
  return split;
}

}  // namespace jailwarden::cli
