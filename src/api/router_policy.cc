// The routes that change the policy: POST /v1/apply (a whole policy text)
// and PATCH /v1/jails/NAME (one jail's keys, `jailwarden set`). Both
// answer the same way: the diff, or 422 with every policy error.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"
#include "api/json.h"
#include "api/router_impl.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {

void Router::Impl::Apply() {
  absl::StatusOr<Json> body = Body();
  if (!body.ok()) return SendError(body.status());
  std::string text, filename = "policy";
  bool dry_run = false;
  absl::Status s = RejectUnknownFields(*body, {"policy", "filename", "dry_run"});
  if (s.ok()) s = ReadString(*body, "policy", &text);
  if (s.ok()) s = ReadString(*body, "filename", &filename);
  if (s.ok()) s = ReadBool(*body, "dry_run", &dry_run);
  if (!s.ok()) return SendError(s);
  SendApplyResult(d_.Apply(text, filename, dry_run), dry_run);
}

// PATCH /v1/jails/NAME {"set": {KEY: "YAML text", ...}, "dry_run": B}.
void Router::Impl::SetJailKeys(const std::string& name) {
  absl::StatusOr<Json> body = Body();
  if (!body.ok()) return SendError(body.status());
  bool dry_run = false;
  std::map<std::string, std::string> set;
  absl::Status s = RejectUnknownFields(*body, {"set", "dry_run"});
  if (s.ok()) s = ReadStringMap(*body, "set", &set);
  if (s.ok()) s = ReadBool(*body, "dry_run", &dry_run);
  if (s.ok() && set.empty()) {
    s = absl::InvalidArgumentError("field 'set' must name at least one key");
  }
  if (!s.ok()) return SendError(s);
  std::vector<std::pair<std::string, std::string>> keys(set.begin(), set.end());
  SendApplyResult(d_.SetJailKeys(name, keys, dry_run), dry_run);
}

void Router::Impl::SendApplyResult(const absl::StatusOr<ApplyResult>& result, bool dry_run) {
  if (!result.ok()) {
    Json j = ErrorToJson(result.status());
    if (result.status().code() == absl::StatusCode::kInvalidArgument) {
      Json lines = Json::array();
      for (std::string_view l : Split(ToStd(result.status().message()), '\n')) {
        if (!l.empty()) lines.push_back(std::string(l));
      }
      j["errors"] = std::move(lines);
      return SendJson(422, j);
    }
    return SendJson(HttpStatusFor(result.status()), j);
  }
  Json j = Json::object();
  j["changed"] = result->changed;
  j["diff"] = result->diff;
  j["dry_run"] = dry_run;
  j["failures"] = result->failures;
  SendJson(200, j);
}

}  // namespace jailwarden::api
