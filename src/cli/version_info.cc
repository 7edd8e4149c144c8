// `jailwarden --version [--json]`.

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sysexits.h>

#include <string>
#include <utility>
#include <vector>

#include "CLI/Version.hpp"
#include "cli/build_info.h"
#include "cli/dispatch.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/version.h"
#include "nlohmann/json.hpp"
#if defined(JW_API_USES_MICROHTTPD)
#include <microhttpd.h>
#endif

namespace jailwarden::cli {
namespace {

// The backends compiled into this binary.
std::vector<std::string> Backends() {
#if defined(__linux__)
  // Both cgroup writers are built; the host's layout picks one at start-up
  // (hybrid hosts: the unified tree when its controllers are there).
  return {"linux-cgroup-v1", "linux-cgroup-v2"};
#elif defined(__FreeBSD__)
  return {"freebsd-rctl"};
#else
  return {};
#endif
}

// name -> version, of the libraries linked in.
std::vector<std::pair<std::string, std::string>> Libraries() {
  std::vector<std::pair<std::string, std::string>> libs;
  libs.emplace_back("libcurl", curl_version_info(CURLVERSION_NOW)->version);
  libs.emplace_back("openssl", OpenSSL_version(OPENSSL_VERSION_STRING));
#if defined(JW_API_USES_MICROHTTPD)
  libs.emplace_back("libmicrohttpd", MHD_get_version());
#endif
  libs.emplace_back("cli11", CLI11_VERSION);
  libs.emplace_back("nlohmann_json", StrCat(NLOHMANN_JSON_VERSION_MAJOR, ".",
                                            NLOHMANN_JSON_VERSION_MINOR, ".",
                                            NLOHMANN_JSON_VERSION_PATCH));
  return libs;
}

}  // namespace

int PrintVersion(CommandContext& ctx, bool json) {
  const std::vector<std::string> backends = Backends();
  const auto libs = Libraries();
  if (json) {
    nlohmann::json j = nlohmann::json::object();
    j["version"] = kVersion;
    j["commit"] = kGitCommit;
    j["build_type"] = kBuildType;
    j["compiler"] = kCompiler;
    j["backends"] = backends;
    nlohmann::json l = nlohmann::json::object();
    for (const auto& [name, version] : libs) l[name] = version;
    j["libraries"] = l;
    ctx.out << j.dump(2) << "\n";
    return EX_OK;
  }
  ctx.out << "jailwarden " << kVersion << "\n"
          << "commit:     " << kGitCommit << "\n"
          << "build type: " << kBuildType << "\n"
          << "compiler:   " << kCompiler << "\n"
          << "backends:   " << Join(backends, ", ") << "\n"
          << "libraries: ";
  for (const auto& [name, version] : libs) ctx.out << " " << name << " " << version;
  ctx.out << "\n";
  return EX_OK;
}

}  // namespace jailwarden::cli
