// OCI containers observed read-only (jailwarden/service/oci_watcher.h).

#include "jailwarden/service/oci_watcher.h"

#include <algorithm>
#include <utility>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {

const OciWatcher::Adopted* OciWatcher::Table::Find(std::string_view name) const {
  for (const Adopted& a : containers) {
    if (a.container.name == name) return &a;
  }
  return nullptr;
}

OciWatcher::OciWatcher(std::vector<std::string> roots, OciScanner scanner,
                       JailRegistry& registry, HostBackend& backend)
    : roots_(std::move(roots)), scanner_(std::move(scanner)), registry_(registry),
      backend_(backend) {
  auto empty = std::make_shared<Table>();
  empty->enforcements = std::make_shared<const std::vector<platform::Enforcement>>();
  table_.Store(std::move(empty));
}

void OciWatcher::Report(const std::string& message, const std::string& root) {
  reported_now_.insert(message);
  if (reported_.insert(message).second) {
    LogWarning("OCI container not shown", {{"root", root}, {"reason", message}});
  }
}

void OciWatcher::Refresh(const std::vector<jail::JailRecord>& native) {
  if (!scanner_) return;
  reported_now_.clear();
  const std::shared_ptr<const Table> before = table_.Load();
  auto next = std::make_shared<Table>();
  std::set<std::string> names, live;
  for (const std::string& root : roots_) {
    absl::StatusOr<OciRootScan> scan = scanner_(root);
    if (!scan.ok()) {
      Report(std::string(scan.status().message()), root);
      continue;
    }
    for (const std::string& s : scan->skipped) Report(s, root);
    // The older container keeps a contested name, pass after pass.
    std::stable_sort(scan->containers.begin(), scan->containers.end(),
                     [](const OciContainer& x, const OciContainer& y) {
                       return x.created < y.created;
                     });
    for (OciContainer& c : scan->containers) {
      auto taken_by = [&](const std::string& name) -> std::string {
        for (const jail::JailRecord& rec : native) {
          if (rec.spec.name == name) return "a jailwarden jail";
        }
        return names.count(name) != 0 ? "another container" : "";
      };
      // The recorded name (podman's), else the id (docs/oci.md, "Names").
      if (!c.name.empty() && c.name != c.id) {
        std::string why;
        if (std::optional<std::string> bad = policy::JailNameProblem(c.name)) {
          why = *bad;
        } else if (std::string by = taken_by(c.name); !by.empty()) {
          why = StrCat("taken by ", by);
        }
        if (!why.empty()) {
          Report(StrCat(root, "/", c.id, ": name '", c.name, "' not used (", why,
                        "); shown under its id"),
                 root);
          c.name = c.id;
        }
      } else {
        c.name = c.id;
      }
      if (std::string by = taken_by(c.name); !by.empty()) {
        Report(StrCat(root, "/", c.id, ": the name '", c.name, "' is taken by ", by,
                      "; not merged"),
               root);
        continue;
      }
      Adopted a;
      a.root = root;
      if (c.status != "stopped") {
        platform::JailInstance instance;
        instance.ref.name = c.name;
        instance.init_pid = c.pid;
        instance.started = absl::InfinitePast();
        if (absl::Time t; absl::ParseTime(absl::RFC3339_full, c.created, &t, nullptr)) {
          instance.started = t;
        }
        instance.backend_state = c.backend_state;
        absl::Status s = registry_.ObserveReadOnly(instance);
        if (absl::IsAlreadyExists(s)) {  // a jail of that name started since
          Report(StrCat(root, "/", c.id, ": ", ToStd(s.message()), "; not merged"), root);
          continue;
        }
        if (!s.ok()) {
          Report(StrCat(root, "/", c.id, ": not sampled: ", ToStd(s.message())), root);
        } else {
          a.sampled = true;
          live.insert(c.name);
        }
      }
      // The limits: described again only when the rules changed.
      const Adopted* old = before->Find(c.name);
      if (old != nullptr && old->root == root && old->container.id == c.id &&
          old->container.rules == c.rules) {
        a.limits = old->limits;
      } else {
        for (const std::string& text : c.rules) {
          absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(StrCat("jail:", c.name, ":", text));
          if (!rule.ok()) {
            Report(StrCat(root, "/", c.id, ": rule '", text, "': ", ToStd(rule.status().message())),
                   root);
            continue;
          }
          a.limits.push_back(backend_.enforcer().Describe(*rule));
        }
      }
      names.insert(c.name);
      a.container = std::move(c);
      next->containers.push_back(std::move(a));
    }
  }
  for (const std::string& name : sampled_) {
    if (live.count(name) == 0) registry_.ForgetReadOnly(name);
  }
  sampled_ = std::move(live);
  // The metrics' limit families re-render only when this pointer changes.
  bool same = before->containers.size() == next->containers.size();
  for (std::size_t i = 0; same && i < next->containers.size(); ++i) {
    same = before->containers[i].container.name == next->containers[i].container.name &&
           before->containers[i].container.rules == next->containers[i].container.rules;
  }
  if (same) {
    next->enforcements = before->enforcements;
  } else {
    auto all = std::make_shared<std::vector<platform::Enforcement>>();
    for (const Adopted& a : next->containers) {
      all->insert(all->end(), a.limits.begin(), a.limits.end());
    }
    next->enforcements = std::move(all);
  }
  for (auto it = reported_.begin(); it != reported_.end();) {
    it = reported_now_.count(*it) != 0 ? std::next(it) : reported_.erase(it);
  }
  table_.Store(std::move(next));
}

absl::Status OciWatcher::RefuseChange(std::string_view name, std::string_view what) const {
  const std::shared_ptr<const Table> table = table_.Load();
  const Adopted* a = table->Find(name);
  if (a == nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(ToAbsl(StrCat(
      what, " refused: '", name, "' is an OCI container (record ", a->root, "/", a->container.id,
      "/state.json) that jailwarden serve only observes; stop, limit or delete it "
      "through its OCI runtime (jailwarden oci kill/update/delete, or podman, ctr)")));
}

}  // namespace jailwarden::service
