#include "jailwarden/service/daemon.h"

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>

#include "jailwarden/api/token.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/logs.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/service/health_checker.h"
#include "jailwarden/service/jail_registry.h"
#include "jailwarden/service/lifecycle.h"
#include "jailwarden/service/policy_record.h"
#include "jailwarden/service/reloader.h"
#include "jailwarden/service/rule_database.h"
#include "jailwarden/service/tick_router.h"
#include "jailwarden/version.h"
#include "service/api_view.h"
#include "service/http_endpoints.h"
#include "service/isolation_cache.h"
#include "service/main_status_cache.h"
#include "service/rctl_front.h"

namespace jailwarden::service {

// The rooms, in construction order (members are destroyed in reverse).
struct Daemon::Impl {
  DaemonOptions options;
  std::unique_ptr<HostBackend> backend;
  std::string token;
  std::unique_ptr<RuleDatabase> rules;
  std::unique_ptr<JailRegistry> registry;
  std::unique_ptr<OciWatcher> oci;  // OCI containers, read-only
  std::unique_ptr<jail::JailLogSink> logs;  // issue 17; before manager, which uses it
  std::string state_dir;
  std::unique_ptr<jail::Manager> manager;
  platform::JailRuntime* runtime = nullptr;  // owned by manager
  std::unique_ptr<MainStatusCache> mains;  // command: records, read by maintenance
  std::unique_ptr<IsolationCache> isolation;  // for /metrics (issue 13)
  std::unique_ptr<Lifecycle> lifecycle;
  std::unique_ptr<Reloader> reloader;
  engine::EventStream events{10000};  // the event log (engine/event_stream.h)
  metrics::EngineHealthRecorder engine_health;
  std::unique_ptr<racct::Sampler> sampler;
  std::unique_ptr<TickRouter> router;
  std::unique_ptr<RctlFront> rctl;
  std::unique_ptr<HealthChecker> health;  // policy healthchecks
  HttpEndpoints http;  // /metrics and the API
  std::atomic<bool> ready{false};
  std::atomic<bool> shut_down{false};

  // An rctl signal action on a jail (platform/linux/signal_target.h): a
  // memory resource's biggest consumer where the backend can tell, else
  // every process but the jail's init.
  void SignalJail(const std::string& name, int host_signal, rctl::Resource resource) {
    const bool memory = resource == rctl::Resource::kMemoryuse ||
                        resource == rctl::Resource::kVmemoryuse ||
                        resource == rctl::Resource::kSwapuse;
    for (const jail::JailRecord& rec : *registry->Records()) {
      if (rec.spec.name != name || rec.state != jail::JailState::kRunning) continue;
      if (memory) {
        absl::StatusOr<int64_t> pid =
            runtime->SignalBiggestConsumer(rec.instance, resource, host_signal);
        if (pid.ok() || pid.status().code() == absl::StatusCode::kNotFound) continue;
        if (pid.status().code() != absl::StatusCode::kUnimplemented) {
          LogWarning("rctl signal failed",
                     {{"jail", name}, {"error", std::string(pid.status().message())}});
          continue;
        }
      }
      if (absl::Status s = runtime->SignalAll(rec.instance, host_signal); !s.ok()) {
        LogWarning("rctl signal failed", {{"jail", name}, {"error", std::string(s.message())}});
      }
    }
  }

  // Maintenance pass: an oom_killed event for every jail whose OOM-kill
  // counter grew since the last pass (a run seen for the first time counts
  // from 0, except at the first pass: adopted jails count from now).
  struct OomSeen {
    int64_t init_pid = -1;
    int64_t count = 0;
  };
  std::map<std::string, OomSeen> oom_seen;  // maintenance worker only
  // Each running jail's OOM-kill counter as last sampled, for /metrics.
  std::mutex oom_mu;
  std::map<std::string, int64_t> oom_totals;  // guarded by oom_mu
  bool oom_first_pass = true;
  void SampleOomKills() {
    std::map<std::string, OomSeen> next;
    for (const jail::JailRecord& rec : *registry->Records()) {
      if (rec.state != jail::JailState::kRunning) continue;
      absl::StatusOr<int64_t> n = backend->OomKills(rec.instance);
      if (!n.ok()) continue;
      const std::string& name = rec.spec.name;
      auto it = oom_seen.find(name);
      const bool same_run = it != oom_seen.end() && it->second.init_pid == rec.instance.init_pid;
      const int64_t before = same_run ? it->second.count : (oom_first_pass ? *n : 0);
      if (*n > before) {
        events.Publish(engine::kEventOomKilled, name, {{"count", *n - before}, {"total", *n}});
        LogWarning("jail process killed by the OOM killer",
                   {{"jail", name}, {"count", StrCat(*n - before)}});
      }
      next[name] = OomSeen{rec.instance.init_pid, *n};
    }
    {
      std::lock_guard<std::mutex> lock(oom_mu);
      oom_totals.clear();
      for (const auto& [name, seen] : next) oom_totals[name] = seen.count;
    }
    oom_seen = std::move(next);
    oom_first_pass = false;
  }

  // Maintenance pass: a main_exited event for every jail whose supervised
  // main process (`command:`) exited since the last pass, read from its
  // init's record (init keeps the last exit; two exits within one pass are
  // told as one, with `restarts` counting both). Exits from before this
  // daemon started (adopted jails) are not replayed.
  struct MainSeen {
    int64_t init_pid = -1;
    absl::Time exit_time = absl::InfinitePast();
  };
  std::map<std::string, MainSeen> main_seen;  // maintenance worker only
  const absl::Time main_since = absl::Now();
  void SampleMainExits() {
    std::map<std::string, MainSeen> next;
    const std::shared_ptr<const std::vector<jail::JailRecord>> records = registry->Records();
    const std::map<std::string, std::optional<platform::MainProcessStatus>> mains_now =
        mains->Refresh(*records);
    for (const jail::JailRecord& rec : *records) {
      auto found = mains_now.find(rec.spec.name);
      if (found == mains_now.end() || !found->second.has_value()) continue;
      const platform::MainProcessStatus* m = &*found->second;
      const std::string& name = rec.spec.name;
      auto it = main_seen.find(name);
      const bool same_run = it != main_seen.end() && it->second.init_pid == rec.instance.init_pid;
      const bool replay = !same_run && m->exit_time < main_since;
      if (m->exited && !replay && (!same_run || m->exit_time != it->second.exit_time)) {
        std::vector<engine::EventField> details;
        if (m->exit_signal != 0) {
          details.push_back({"signal", int64_t{m->exit_signal}});
        } else {
          details.push_back({"code", int64_t{m->exit_code}});
        }
        details.push_back({"restarts", m->restarts});
        details.push_back({"oom_killed", int64_t{m->oom_killed ? 1 : 0}});
        details.push_back(
            {"restart", std::string(m->gave_up                                   ? "gave_up"
                                    : m->running || m->next_start > absl::Now() ? "due"
                                                                                : "no")});
        events.Publish(engine::kEventMainExited, name, std::move(details));
      }
      next[name] = MainSeen{rec.instance.init_pid, m->exit_time};
    }
    main_seen = std::move(next);
  }

  // The rules in force for /metrics: the database's and the observed OCI
  // containers' (the runtime's), one vector that keeps its pointer while
  // neither changes (the collector re-renders the limit families on a new
  // pointer).
  std::mutex enforcements_mu;
  std::shared_ptr<const std::vector<platform::Enforcement>> db_seen, oci_seen, combined;
  std::shared_ptr<const std::vector<platform::Enforcement>> Enforcements() {
    std::shared_ptr<const std::vector<platform::Enforcement>> db =
        rules->Current()->Flat().enforcements;
    std::shared_ptr<const std::vector<platform::Enforcement>> ct = oci->Current()->enforcements;
    std::lock_guard<std::mutex> lock(enforcements_mu);
    if (ct->empty()) return db;
    if (db != db_seen || ct != oci_seen || combined == nullptr) {
      auto all = std::make_shared<std::vector<platform::Enforcement>>();
      if (db != nullptr) *all = *db;
      all->insert(all->end(), ct->begin(), ct->end());
      combined = std::move(all);
      db_seen = db;
      oci_seen = ct;
    }
    return combined;
  }

  // A call that would change `name`: refused when it is an observed OCI
  // container and no jailwarden jail has that name.
  absl::Status RefuseContainer(std::string_view name, std::string_view what) {
    for (const jail::JailRecord& rec : *registry->Records()) {
      if (rec.spec.name == name) return absl::OkStatus();
    }
    return oci->RefuseChange(name, what);
  }

  void Shutdown() {
    if (shut_down.exchange(true)) return;
    ready.store(false);
    http.Stop();
    if (health != nullptr) health->Stop();  // no check or restart from here on
    if (router != nullptr) router->Stop();  // lifts every sampled-deny clamp
    if (sampler != nullptr) sampler->Stop();
    if (options.stop_jails_on_exit && lifecycle != nullptr) {
      LogInfo("stopping every jail");
      if (absl::Status s = lifecycle->StopAll(); !s.ok()) {
        LogError("stopping jails failed", {{"error", std::string(s.message())}});
      }
    }
    LogInfo("jailwarden stopped",
            {{"jails_kept_running", options.stop_jails_on_exit ? "no" : "yes"}});
  }
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { Shutdown(); }

void Daemon::Shutdown() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options,
                                                     policy::Policy policy,
                                                     std::unique_ptr<HostBackend> backend) {
  std::unique_ptr<Daemon> daemon(new Daemon(std::make_unique<Impl>()));
  Impl& d = *daemon->impl_;
  d.options = std::move(options);
  d.backend = std::move(backend);
  const policy::ServerConfig server = policy.server;
  // One daemon per state directory, before anything is adopted or changed.
  if (d.options.state_lock == nullptr) {
    JW_ASSIGN_OR_RETURN(d.options.state_lock, StateDirLock::Acquire(server.state_dir));
  }
  // Event ids continue after the last run's (never repeat).
  JW_RETURN_IF_ERROR(d.events.OpenHighWater(StrCat(server.state_dir, "/", kEventIdFile)));
  // The last `apply -f` of another file, if any, is what runs
  // (policy_record.h); the server settings stay the configuration file's.
  JW_ASSIGN_OR_RETURN(policy, PolicyToStartWith(std::move(policy), d.options.config_path));
  if (d.options.serve_http) {
    JW_ASSIGN_OR_RETURN(d.token, api::LoadOrCreateToken(server.token_file));
  }
  HostBackend& hb = *d.backend;
  d.rules = std::make_unique<RuleDatabase>(
      [&hb](const rctl::Rule& r) { return hb.enforcer().Describe(r); },
      [&hb](const rctl::Rule& r) { return hb.DenyIsSampled(r); });
  // Runtime rules (rctl -a/-r, create -L) recorded by an earlier run.
  JW_RETURN_IF_ERROR(d.rules->OpenRecord(StrCat(server.state_dir, "/", kRuntimeRulesFile)));
  d.registry = std::make_unique<JailRegistry>(hb, *d.rules);
  d.oci = std::make_unique<OciWatcher>(d.options.oci_roots, d.options.oci_scanner,
                                       *d.registry, hb);

  // Jails: adopt what a previous run left. The registry learns of every
  // kernel jail the moment it exists, so limits hold from its first process.
  jail::ManagerOptions mo;
  mo.state_dir = server.state_dir;
  // ".transient": jail names have no '.', so no jail's runtime entry meets it.
  mo.transient_dir = StrCat(RunDirFor(server.state_dir), "/.transient");
  mo.observer = [&d](const jail::LifecycleEvent& e) {
    if (e.step == "ended") {
      // A jail whose processes all ended by themselves.
      d.events.Publish(engine::kEventStopped, e.jail, {{"by", std::string("itself")}});
    }
    if (!e.ok) {
      LogWarning("jail step failed", {{"jail", e.jail}, {"step", e.step},
                                      {"command", e.command},
                                      {"rollback", e.rollback ? "yes" : "no"}});
    } else {
      LogDebug("jail step", {{"jail", e.jail}, {"step", e.step}, {"command", e.command}});
    }
  };
  d.state_dir = server.state_dir;
  // Issue 17: hooks' and main processes' output to the jails' log writers.
  if (absl::StatusOr<std::string> logd = jail::JailLogSink::FindLogd(); logd.ok()) {
    d.logs = std::make_unique<jail::JailLogSink>(server.state_dir, *logd);
    mo.log_sink = d.logs.get();
  } else {
    LogWarning("jail output is not captured", {{"error", std::string(logd.status().message())}});
  }
  JailRegistry& registry = *d.registry;
  mo.on_kernel_jail_created = [&registry](const platform::JailInstance& i) {
    return registry.OnKernelJailCreated(i);
  };
  mo.on_kernel_jail_removed = [&registry](const std::string& name) {
    registry.OnKernelJailRemoved(name);
  };
  std::unique_ptr<platform::JailRuntime> runtime = hb.TakeRuntime();
  if (runtime == nullptr) return absl::InternalError("backend has no runtime");
  d.runtime = runtime.get();
  d.mains = std::make_unique<MainStatusCache>(*d.runtime);
  d.isolation = std::make_unique<IsolationCache>(*d.runtime, absl::Seconds(10));
  JW_ASSIGN_OR_RETURN(d.manager, jail::Manager::Open(mo, std::move(runtime)));
  for (const std::string& name : d.manager->open_report().adopted) {
    LogInfo("jail adopted", {{"jail", name}});
  }
  for (const std::string& name : d.manager->open_report().cleaned) {
    LogInfo("jail cleaned up after an earlier run", {{"jail", name}});
  }
  registry.SetDriftListener([&d](const std::string& jail, const platform::LimitDrift& drift) {
    d.events.Append(DriftEventLine(jail, drift));
  });
  d.lifecycle = std::make_unique<Lifecycle>(policy, *d.manager, *d.rules, registry);
  d.lifecycle->SetEventLog(&d.events);
  d.reloader = std::make_unique<Reloader>(d.options.config_path, *d.lifecycle, *d.rules);

  // Sampler, engine and router exist before any rule is published.
  racct::SamplerOptions so;
  so.interval = server.sample_interval;
  so.slow_interval = server.slow_interval;
  so.history = std::min(server.history, absl::Hours(1));
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  so.ncpu = ncpu > 0 ? static_cast<int>(ncpu) : 1;
  JW_RETURN_IF_ERROR(racct::ValidateSamplerOptions(so));
  d.sampler = std::make_unique<racct::Sampler>(hb.reader(), MonotonicClock::Get(), so);
  TickRouterOptions ro;
  ro.engine.log_rate_limit = static_cast<int>(server.log_rate_limit);
  ro.engine.devctl_rate_limit = static_cast<int>(server.devctl_rate_limit);
  ro.engine.throttle_min = server.throttle.min;
  ro.engine.throttle_max = server.throttle.max;
  ro.engine.throttle_pct = server.throttle.pct;
  ro.engine.throttle_pct2 = server.throttle.pct2;
  JW_RETURN_IF_ERROR(engine::ValidateEngineOptions(ro.engine));
  ro.signal_jail = [&d](const std::string& jail, int sig, rctl::Resource resource) {
    d.SignalJail(jail, sig, resource);
  };
  ro.maintain = [&d] {
    d.lifecycle->Maintain();
    d.oci->Refresh(*d.registry->Records());
    d.SampleOomKills();
    d.SampleMainExits();
  };
  ro.maintenance_interval = d.options.maintenance_interval;
  ro.kernel_acts = hb.KernelActs();  // FreeBSD: rctl acts, the engine only counts
  racct::Sampler& sampler = *d.sampler;
  ro.rules_compiled = [&sampler](const FlatRules& flat) { sampler.SetRules(flat.rules); };
  d.router = std::make_unique<TickRouter>(*d.rules, hb.enforcer(), d.events,
                                          d.engine_health, std::move(ro));
  d.sampler->SetTickCallback(
      [&d](const std::shared_ptr<const racct::Snapshot>& snap) {
        d.router->OnTick(snap);
        if (d.options.on_tick) {
          d.options.on_tick();
        }
      });
  d.rctl = std::make_unique<RctlFront>(*d.rules, *d.sampler, &d.events,
                                       [&d] { return d.lifecycle->policy(); });
  d.rctl->SetReadOnlyCheck([&d](std::string_view jail, std::string_view what) {
    return d.RefuseContainer(jail, what);
  });

  // The policy's rules and jails.
  JW_ASSIGN_OR_RETURN(std::vector<std::string> failures, d.lifecycle->ApplyInitialPolicy());
  LogInfo("policy applied", {{"file", d.options.config_path},
                             {"jails", StrCat(policy.jails.size())},
                             {"rules", StrCat(d.rules->Current()->size())},
                             {"failures", StrCat(failures.size())}});
  d.health = std::make_unique<HealthChecker>(
      HealthCheckerOptions{},
      [&d] { return HealthTargets(*d.lifecycle->policy(), *d.registry->Records()); },
      // The path `jailwarden exec` takes.
      [&d](const std::string& jail, const platform::ExecRequest& request) {
        return d.manager->Exec(jail, request);
      },
      [&d](const std::string& jail, policy::HealthAction action) -> absl::Status {
        switch (action) {
          case policy::HealthAction::kRestart:
            return d.lifecycle->RestartJail(jail, "healthcheck").status();
          case policy::HealthAction::kStop:
            return d.lifecycle->StopJail(jail, "healthcheck").status();
          case policy::HealthAction::kNone:
            return absl::OkStatus();
        }
        return absl::OkStatus();
      },
      &d.events);
  d.health->Start();
  d.oci->Refresh(*d.registry->Records());  // listed from the first request on
  if (d.options.run_sampler) JW_RETURN_IF_ERROR(d.sampler->Start());
  d.router->Start();
  if (d.options.serve_http) {
    metrics::MetricsSources sources;
    sources.snapshot = [&d] { return d.sampler->Latest(); };
    sources.rule_stats = [&d] { return d.router->engine().Stats(); };
    sources.jails = [&d] {
      const std::shared_ptr<const policy::Policy> pol = d.lifecycle->policy();
      const std::shared_ptr<const std::vector<jail::JailRecord>> records = d.registry->Records();
      std::vector<metrics::JailStatus> out =
          JailStatuses(*records, *pol, pol->AllRules().rules(), *d.rules->Current());
      const std::map<std::string, JailHealth> health = d.health->States();
      std::map<std::string, int64_t> oom;
      {
        std::lock_guard<std::mutex> lock(d.oom_mu);
        oom = d.oom_totals;
      }
      AddRunStatus(out, *records, health, oom, *d.mains, *d.isolation);
      return out;
    };
    sources.enforcements = [&d] { return d.Enforcements(); };
    sources.engine_health = [&d] { return d.engine_health.Read(); };
    sources.reloads = [&d] {
      const ReloadStatus r = d.reloader->status();
      metrics::ReloadHealth h;
      h.generation = r.policy_generation;
      if (r.last_reload != absl::InfinitePast()) h.last_attempt = r.last_reload;
      h.last_ok = r.last_reload_ok;
      return h;
    };
    sources.limit_drift = [&d] { return d.registry->DriftCounts(); };
    policy::ServerConfig http_server = server;
    if (!d.options.web_config.empty()) http_server.web_config = d.options.web_config;
    JW_RETURN_IF_ERROR(d.http.Start(*daemon, http_server, d.options.listen, d.token,
                                    std::move(sources), std::string(hb.name())));
  }
  d.ready.store(true);
  LogInfo("jailwarden ready", {{"backend", std::string(hb.name())}, {"version", kVersion}});
  return daemon;
}

std::map<std::string, JailHealth> Daemon::Health() const { return impl_->health->States(); }

absl::StatusOr<api::ApplyResult> Daemon::ReloadFromFile() {
  return impl_->reloader->ReloadFromFile();
}

std::vector<int> Daemon::ports() const {
  return impl_->http.ports();
}

const std::string& Daemon::token() const { return impl_->token; }

racct::Sampler& Daemon::sampler() { return *impl_->sampler; }

std::vector<api::JailInfo> Daemon::ListJails() {
  std::shared_ptr<const policy::Policy> pol = impl_->lifecycle->policy();
  std::shared_ptr<const RuleSnapshot> rules = impl_->rules->Current();
  const std::map<std::string, JailHealth> health = impl_->health->States();
  std::vector<api::JailInfo> out;
  for (const jail::JailRecord& rec : *impl_->registry->Records()) {
    if (rec.ephemeral) continue;
    out.push_back(JailInfoOf(rec, *pol, *rules));
    out.back().main = impl_->mains->Get(rec);  // command: (issue 17)
    if (auto it = health.find(rec.spec.name); it != health.end()) {
      out.back().health = it->second.state;
    }
  }
  for (const OciWatcher::Adopted& a : impl_->oci->Current()->containers) {
    out.push_back(ContainerInfoOf(a));
  }
  return out;
}

absl::StatusOr<api::JailInfo> Daemon::GetJail(std::string_view name) {
  for (const jail::JailRecord& rec : *impl_->registry->Records()) {
    if (rec.spec.name == name) {
      api::JailInfo info = JailInfoOf(rec, *impl_->lifecycle->policy(), *impl_->rules->Current());
      info.main = impl_->mains->Get(rec);  // command: (issue 17)
      info.isolation = IsolationOf(*impl_->runtime, rec);  // issue 13
      const std::map<std::string, JailHealth> health = impl_->health->States();
      if (auto it = health.find(info.name); it != health.end()) info.health = it->second.state;
      return info;
    }
  }
  if (const OciWatcher::Adopted* a = impl_->oci->Current()->Find(name); a != nullptr) {
    return ContainerInfoOf(*a);
  }
  return absl::NotFoundError(ToAbsl(StrCat("no jail named '", name, "'")));
}

absl::StatusOr<std::string> Daemon::JailLogDir(std::string_view name) {
  for (const jail::JailRecord& rec : *impl_->registry->Records()) {
    if (rec.spec.name == name && !rec.ephemeral) {
      return jail::LogDirFor(impl_->state_dir, name);
    }
  }
  return absl::NotFoundError(ToAbsl(StrCat("no jail named '", name, "'")));
}

absl::Status Daemon::CreateJail(const api::CreateJailRequest& request) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(request.spec.name, "create"));
  return impl_->lifecycle->CreateJail(request);
}
absl::StatusOr<api::JailChange> Daemon::DestroyJail(std::string_view name) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "destroy"));
  return impl_->lifecycle->DestroyJail(name);
}
absl::StatusOr<api::JailChange> Daemon::StartJail(std::string_view name) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "start"));
  return impl_->lifecycle->StartJail(name);
}
absl::StatusOr<api::JailChange> Daemon::StopJail(std::string_view name) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "stop"));
  return impl_->lifecycle->StopJail(name);
}
absl::StatusOr<api::JailChange> Daemon::RestartJail(std::string_view name) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "restart"));
  return impl_->lifecycle->RestartJail(name);
}

absl::StatusOr<platform::ExecResult> Daemon::Exec(std::string_view name,
                                                  const platform::ExecRequest& request) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "exec"));
  return impl_->manager->Exec(name, request);
}

absl::Status Daemon::CheckRun(const api::RunRequest& run) {
  return impl_->lifecycle->CheckRun(run);
}

absl::StatusOr<platform::ExecResult> Daemon::Run(const api::RunRequest& run,
                                                 const platform::ExecRequest& request) {
  return impl_->lifecycle->Run(run, request);
}

rctl::RctlBackend& Daemon::Rctl() { return *impl_->rctl; }

absl::StatusOr<std::vector<api::RuleInfo>> Daemon::DescribeRules(std::string_view filter) {
  return service::DescribeRules(*impl_->rules->Current(), filter, HostProcessExists);
}

absl::StatusOr<api::ApplyResult> Daemon::Apply(std::string_view text,
                                               std::string_view filename, bool dry_run) {
  return impl_->reloader->ApplyText(text, filename, dry_run);
}

absl::StatusOr<api::ApplyResult> Daemon::SetJailKeys(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& keys,
    bool dry_run) {
  JW_RETURN_IF_ERROR(impl_->RefuseContainer(name, "set"));
  std::vector<policy::JailKeyValue> kv;
  kv.reserve(keys.size());
  for (const auto& [k, v] : keys) kv.push_back({k, v});
  return impl_->reloader->SetJailKeys(name, kv, dry_run);
}

api::DaemonStatus Daemon::Status() {
  Impl& d = *impl_;
  api::DaemonStatus s;
  s.ready = d.ready.load();
  s.version = kVersion;
  s.backend = std::string(d.backend->name());
  s.policy_file = d.options.config_path;
  const ReloadStatus r = d.reloader->status();
  s.policy_generation = r.policy_generation;
  s.last_reload = r.last_reload;
  s.last_reload_ok = r.last_reload_ok;
  s.last_reload_error = r.last_reload_error;
  s.jails = d.registry->Records()->size();
  s.rules = d.rules->Current()->size();
  if (std::shared_ptr<const racct::Snapshot> snap = d.sampler->Latest()) {
    s.sampler_ticks = snap->health.ticks;
  }
  s.events = d.events.last_seq();
  return s;
}

std::shared_ptr<const racct::Snapshot> Daemon::LatestSnapshot() {
  return impl_->sampler->Latest();
}

engine::EventStream& Daemon::Events() { return impl_->events; }

}  // namespace jailwarden::service
