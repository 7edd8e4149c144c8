// Usage answers: `rctl -u` text for any subject, and every jail's usage
// from the sampler's latest snapshot (top, a jail's usage) in user units.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/json.h"
#include "api/router_impl.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::api {
namespace {

int64_t UserValue(rctl::Resource r, int64_t kernel) {
  return rctl::IsInMillions(r) ? kernel / 1000000 : kernel;
}

}  // namespace

void Router::Impl::Usage() {
  const std::string subject = FilterParam("subject");
  absl::StatusOr<std::string> text = d_.Rctl().GetRacct(subject);
  if (!text.ok()) return SendError(text.status());
  Json j = Json::object();
  j["subject"] = subject;
  j["usage"] = *text;
  Json values = Json::object();
  Json human = Json::object();
  Json order = Json::array();
  for (std::string_view pair : Split(*text, ',')) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string name(pair.substr(0, eq));
    values[name] = ParseInt<int64_t>(pair.substr(eq + 1)).value_or(0);
    const std::string shown = rctl::DisplayUsagePair(pair, true);
    const std::size_t seq = shown.find('=');
    human[name] = seq == std::string::npos ? shown : shown.substr(seq + 1);
    order.push_back(name);
  }
  j["values"] = std::move(values);
  j["human"] = std::move(human);
  j["resources"] = std::move(order);
  SendJson(200, j);
}

// Every jail's usage from the latest snapshot, in user units.
std::vector<UsageRow> Router::Impl::UsageRows(std::string_view only) {
  std::vector<UsageRow> rows;
  const std::shared_ptr<const racct::Snapshot> snap = d_.LatestSnapshot();
  for (const JailInfo& info : d_.ListJails()) {
    if (!only.empty() && info.name != only) continue;
    UsageRow row;
    row.name = info.name;
    row.jid = info.jid;
    row.state = info.state;
    if (snap != nullptr) {
      const std::optional<uint32_t> slot = snap->jails().Find(info.name);
      if (slot.has_value()) {
        const rctl::UsageVector& u = snap->usage(*slot);
        const racct::ResourceMask& present = snap->tick->present[*slot];
        for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
          if (!present.test(i)) continue;
          const rctl::Resource res = rctl::ResourceAt(i);
          row.usage.emplace_back(std::string(rctl::ResourceName(res)),
                                 UserValue(res, u[i]));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void Router::Impl::JailUsage(const std::string& name) {
  absl::StatusOr<JailInfo> info = d_.GetJail(name);
  if (!info.ok()) return SendError(info.status());
  std::vector<UsageRow> rows = UsageRows(name);
  if (rows.empty()) {
    return SendError(absl::NotFoundError(ToAbsl(StrCat("no jail ", name))));
  }
  SendJson(200, UsageRowToJson(rows[0]));
}

void Router::Impl::Top() {
  Json list = Json::array();
  for (const UsageRow& row : UsageRows("")) list.push_back(UsageRowToJson(row));
  Json j = Json::object();
  const std::shared_ptr<const racct::Snapshot> snap = d_.LatestSnapshot();
  j["seq"] = snap == nullptr ? 0 : snap->seq;
  j["ncpu"] = snap == nullptr ? 1 : snap->ncpu;
  j["jails"] = std::move(list);
  SendJson(200, j);
}

}  // namespace jailwarden::api
