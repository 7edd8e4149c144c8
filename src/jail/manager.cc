// jail::Manager, part 1: opening the store and adopting what an earlier
// manager left, defining jails, Exec and one-shot Run, noticing jails that
// ended by themselves, and the queries. The start and stop sequences are in
// manager_lifecycle.cc.

#include "jailwarden/jail/manager.h"

#include <unistd.h>

#include <algorithm>

#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/crash_point.h"

namespace jailwarden::jail {
namespace {

using platform::ExecRequest;
using platform::ExecResult;
using platform::ExecWhere;
using platform::JailSpec;

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxHostnameLength = 64;

absl::Status ValidateSpec(const JailSpec& s) {
  if (s.name.empty() || s.name.size() > kMaxNameLength ||
      s.name.find_first_of("./ \t\n") != std::string::npos || s.name == "0") {
    return absl::InvalidArgumentError(
        StrCat("jail name \"", s.name,
               "\": must be 1-64 characters without '.', '/' or white space, and not \"0\""));
  }
  if (s.path.empty() || s.path[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("jail ", s.name, ": path ", s.path, ": not an absolute pathname"));
  }
  if (!s.base_root.empty() && s.base_root[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("jail ", s.name, ": base_root ", s.base_root, ": not an absolute pathname"));
  }
  if (s.hostname.size() > kMaxHostnameLength) {
    return absl::InvalidArgumentError(StrCat("jail ", s.name, ": host.hostname too long"));
  }
  for (const std::string& d : s.depend) {
    if (d == s.name) {
      return absl::FailedPreconditionError(
          StrCat("dependency cycle: ", s.name, " -> ", s.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Manager::Manager(ManagerOptions options, std::unique_ptr<platform::JailRuntime> runtime,
                 std::unique_ptr<StateStore> store)
    : options_(std::move(options)), runtime_(std::move(runtime)), store_(std::move(store)) {}

Manager::~Manager() = default;

absl::StatusOr<std::unique_ptr<Manager>> Manager::Open(
    ManagerOptions options, std::unique_ptr<platform::JailRuntime> runtime) {
  if (runtime == nullptr) {
    return absl::InvalidArgumentError("Manager::Open: no JailRuntime");
  }
  JW_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
                      StateStore::Open(options.state_dir, options.fsync, options.transient_dir));
  std::unique_ptr<Manager> m(new Manager(std::move(options), std::move(runtime), std::move(store)));
  JW_RETURN_IF_ERROR(m->AdoptAll());
  return m;
}

absl::Status Manager::AdoptAll() {
  absl::MutexLock lock(&mu_);
  for (const std::string& path : store_->stale_removed()) {
    LogInfo("removed what an interrupted write left", {{"path", path}});
  }
  JW_ASSIGN_OR_RETURN(last_jid_, store_->LoadLastJid());
  JW_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListNames());
  JW_ASSIGN_OR_RETURN(std::vector<std::string> transient, store_->ListNames(/*transient=*/true));
  std::vector<std::pair<std::string, bool>> all;
  for (const std::string& n : names) {
    all.emplace_back(n, false);
  }
  for (const std::string& n : transient) {
    all.emplace_back(n, true);
  }
  for (const auto& [name, is_transient] : all) {
    absl::StatusOr<JailRecord> loaded = store_->Load(name, is_transient);
    if (!loaded.ok() && is_transient) {
      // Written without fsync: only a power cut leaves it unreadable, and
      // then nothing it described exists any more.
      LogWarning("removing unreadable record of an ephemeral jail",
                 {{"jail", name}, {"error", std::string(loaded.status().message())}});
      JW_RETURN_IF_ERROR(store_->Remove(name, /*transient=*/true));
      open_report_.removed.push_back(name);
      continue;
    }
    if (!loaded.ok()) {
      LogWarning("skipping jail with unreadable state",
                 {{"jail", name}, {"error", std::string(loaded.status().message())}});
      continue;
    }
    if (jails_.count(name) != 0) {
      LogWarning("skipping a second record of the same jail name",
                 {{"jail", name}, {"record", store_->TransientFile(name)}});
      continue;
    }
    JailRecord rec = *std::move(loaded);
    rec.instance.ref.name = rec.spec.name;
    bool adopted = false;
    if (rec.state == JailState::kRunning) {
      absl::StatusOr<bool> alive = runtime_->Adopt(rec.instance);
      adopted = alive.ok() && *alive;
    }
    if (adopted) {
      if (rec.instance.ref.jid > 0) {
        rec.jid = rec.instance.ref.jid;  // what the kernel says it is now
      }
      open_report_.adopted.push_back(name);
      last_jid_ = std::max(last_jid_, rec.jid);
      LogInfo("adopted running jail", {{"jail", name}, {"jid", StrCat(rec.jid)}});
    } else if (rec.state != JailState::kStopped) {
      // Half-made (interrupted start/stop) or died unwatched: undo what the
      // backend recorded. No hooks: their environment is gone.
      absl::Status st = RemoveKernelJail(rec);
      absl::Status td = runtime_->Teardown(rec.spec, rec.instance);
      if (!st.ok() || !td.ok()) {
        LogWarning("cleanup of a half-made jail was incomplete",
                   {{"jail", name},
                    {"error", std::string((!st.ok() ? st : td).message())}});
      }
      open_report_.cleaned.push_back(name);
      rec.state = JailState::kStopped;
      rec.jid = -1;
      rec.done.clear();
      rec.instance = {};
      JW_RETURN_IF_ERROR(store_->SaveRuntime(rec));
    }
    if (rec.ephemeral && rec.state == JailState::kStopped) {
      JW_RETURN_IF_ERROR(store_->Remove(name, is_transient));
      open_report_.removed.push_back(name);
      continue;
    }
    last_jid_ = std::max(last_jid_, rec.jid);
    jails_.emplace(name, std::move(rec));
  }
  return absl::OkStatus();
}

void Manager::Notify(const LifecycleEvent& event) {
  if (options_.observer) {
    options_.observer(event);
  }
}

absl::Status Manager::Save(const JailRecord& rec) {
  changes_.fetch_add(1, std::memory_order_relaxed);
  return store_->SaveRuntime(rec);
}

DependGraph Manager::GraphLocked() const {
  DependGraph g;
  for (const auto& [n, rec] : jails_) {
    g[n] = rec.spec.depend;
  }
  return g;
}

absl::Status Manager::Create(const JailSpec& spec) {
  JW_RETURN_IF_ERROR(ValidateSpec(spec));
  absl::MutexLock lock(&mu_);
  if (jails_.count(spec.name) != 0) {
    return absl::AlreadyExistsError(StrCat("jail ", spec.name, " is already defined"));
  }
  JailRecord rec;
  rec.spec = spec;
  JW_RETURN_IF_ERROR(store_->Save(rec));
  jails_.emplace(spec.name, std::move(rec));
  changes_.fetch_add(1, std::memory_order_relaxed);
  CrashPoint("jail.defined");
  return absl::OkStatus();
}

absl::Status Manager::Update(const JailSpec& spec) {
  JW_RETURN_IF_ERROR(ValidateSpec(spec));
  absl::MutexLock lock(&mu_);
  auto it = jails_.find(spec.name);
  if (it == jails_.end()) {
    return absl::NotFoundError(StrCat("jail ", spec.name, " is not defined"));
  }
  JailRecord updated = it->second;
  if (updated.state != JailState::kStopped) {
    // The running instance keeps what it was made from; the new spec is
    // stored and used from the next start.
    JW_RETURN_IF_ERROR(store_->WriteFileAtomically(
        store_->JailDir(spec.name) + "/config.json", SpecToJson(spec)));
    pending_specs_[spec.name] = spec;
    return absl::OkStatus();
  }
  updated.spec = spec;
  JW_RETURN_IF_ERROR(store_->Save(updated));
  it->second = std::move(updated);
  changes_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Manager::StartOrder(std::string_view name) {
  absl::MutexLock lock(&mu_);
  return DependStartOrder(GraphLocked(), name);
}

absl::StatusOr<ExecResult> Manager::Exec(std::string_view name, const ExecRequest& request) {
  platform::JailInstance instance;
  {
    absl::MutexLock lock(&mu_);
    auto it = jails_.find(name);
    if (it == jails_.end()) {
      return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
    }
    if (it->second.state != JailState::kRunning) {
      return absl::FailedPreconditionError(StrCat("jail ", name, " is not running"));
    }
    instance = it->second.instance;
  }
  return runtime_->Exec(instance, ExecWhere::kJail, request);
}

absl::StatusOr<ExecResult> Manager::Run(const JailSpec& spec_in, const ExecRequest& request) {
  JailSpec spec = spec_in;
  platform::JailInstance instance;
  {
    absl::MutexLock lock(&mu_);
    if (spec.name.empty()) {
      spec.name = StrCat("run-", getpid(), "-", ++run_counter_);
    }
    JW_RETURN_IF_ERROR(ValidateSpec(spec));
    if (jails_.count(spec.name) != 0) {
      return absl::AlreadyExistsError(StrCat("jail ", spec.name, " is already defined"));
    }
    JailRecord rec;
    rec.spec = spec;
    rec.ephemeral = true;
    // First saved (as starting) once Prepare made something: a crash from
    // then on leaves a record the next manager cleans up and forgets.
    rec.state = JailState::kStarting;
    jails_.emplace(spec.name, std::move(rec));
    changes_.fetch_add(1, std::memory_order_relaxed);
    absl::Status st = StartLocked(spec.name, /*hold_persist=*/true);
    if (!st.ok()) {
      (void)DestroyLocked(spec.name);
      return st;
    }
    instance = jails_.at(spec.name).instance;
  }
  absl::StatusOr<ExecResult> result = runtime_->Exec(instance, ExecWhere::kJail, request);
  absl::MutexLock lock(&mu_);
  absl::Status down = DestroyLocked(spec.name);
  if (!result.ok()) {
    return result.status();
  }
  if (!down.ok()) {
    return down;
  }
  return result;
}

absl::Status Manager::Reconcile() {
  absl::MutexLock lock(&mu_);
  return ReconcileLocked();
}

absl::Status Manager::ReconcileLocked() {
  absl::Status first;
  std::vector<std::string> forget;
  for (auto& [name, rec] : jails_) {
    if (rec.state != JailState::kRunning) {
      continue;
    }
    absl::StatusOr<bool> alive = runtime_->Adopt(rec.instance);
    if (!alive.ok() || *alive) {
      continue;
    }
    // Ended by itself (jail(8): no persist and no processes left).
    absl::Status r = RemoveKernelJail(rec);
    absl::Status t = runtime_->Teardown(rec.spec, rec.instance);
    Notify({name, "ended", "", false, r.ok() && t.ok()});
    rec.state = JailState::kStopped;
    rec.jid = -1;
    rec.instance = {};
    rec.done.clear();
    absl::Status s = Save(rec);
    for (const absl::Status& x : {r, t, s}) {
      if (first.ok() && !x.ok()) {
        first = x;
      }
    }
    if (rec.ephemeral) {
      forget.push_back(name);
    }
    LogInfo("jail ended", {{"jail", name}});
  }
  for (const std::string& n : forget) {
    (void)store_->Remove(n, /*transient=*/true);
    jails_.erase(n);
    changes_.fetch_add(1, std::memory_order_relaxed);
  }
  return first;
}

std::vector<JailRecord> Manager::List() {
  absl::MutexLock lock(&mu_);
  (void)ReconcileLocked();
  std::vector<JailRecord> out;
  for (const auto& [name, rec] : jails_) {
    out.push_back(rec);
  }
  return out;
}

Manager::ListVersion Manager::Version() {
  absl::MutexLock lock(&mu_);
  return ListVersion{changes_.load(std::memory_order_relaxed), jails_.size()};
}

absl::StatusOr<JailRecord> Manager::Get(std::string_view name) {
  absl::MutexLock lock(&mu_);
  (void)ReconcileLocked();
  auto it = jails_.find(name);
  if (it == jails_.end()) {
    return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
  }
  return it->second;
}

}  // namespace jailwarden::jail
