#include "platform/linux/init_config.h"

#include <nlohmann/json.hpp>

// The one place nlohmann::json is used for the init config; its exceptions
// stop here (style.md "Errors").

namespace jailwarden::platform {

std::string InitConfigToJson(const InitConfig& c) {
  nlohmann::json j;
  j["root"] = c.root;
  j["overlay_lower"] = c.overlay_lower;
  j["overlay_upper"] = c.overlay_upper;
  j["overlay_work"] = c.overlay_work;
  j["hostname"] = c.hostname;
  j["persist"] = c.persist;
  j["new_net"] = c.new_net;
  j["devpts_max"] = c.devpts_max;
  j["cgroup_join"] = c.cgroup_join;
  nlohmann::json mounts = nlohmann::json::array();
  for (const InitMount& m : c.mounts) {
    mounts.push_back({{"source", m.source},
                      {"target", m.target},
                      {"fstype", m.fstype},
                      {"read_only", m.read_only},
                      {"options", m.options}});
  }
  j["mounts"] = std::move(mounts);
  j["socket_path"] = c.socket_path;
  j["capabilities"] = c.capabilities;
  j["caps_unrestricted"] = c.caps_unrestricted;
  j["hostname_writable"] = c.hostname_writable;
  j["net_sysctls_writable"] = c.net_sysctls_writable;
  j["mount_sysfs"] = c.mount_sysfs;
  j["seccomp"] = c.seccomp;
  j["oom_events_path"] = c.oom_events_path;
  j["oci_process"] = c.oci_process;
  return j.dump();
}

bool InitConfigFromJson(const std::string& text, InitConfig* c, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    c->root = j.at("root").get<std::string>();
    c->overlay_lower = j.value("overlay_lower", "");
    c->overlay_upper = j.value("overlay_upper", "");
    c->overlay_work = j.value("overlay_work", "");
    c->hostname = j.value("hostname", "");
    c->persist = j.value("persist", false);
    c->new_net = j.value("new_net", false);
    c->devpts_max = j.value("devpts_max", 0);
    c->cgroup_join = j.value("cgroup_join", std::vector<std::string>{});
    c->socket_path = j.value("socket_path", "");
    c->capabilities = j.value("capabilities", uint64_t{0});
    c->caps_unrestricted = j.value("caps_unrestricted", false);
    c->hostname_writable = j.value("hostname_writable", false);
    c->net_sysctls_writable = j.value("net_sysctls_writable", false);
    c->mount_sysfs = j.value("mount_sysfs", false);
    c->seccomp = j.value("seccomp", std::string());
    c->oom_events_path = j.value("oom_events_path", std::string());
    c->oci_process = j.value("oci_process", std::string());
    c->mounts.clear();
    for (const nlohmann::json& m : j.value("mounts", nlohmann::json::array())) {
      InitMount im;
      im.source = m.value("source", "");
      im.target = m.at("target").get<std::string>();
      im.fstype = m.value("fstype", "nullfs");
      im.read_only = m.value("read_only", false);
      im.options = m.value("options", "");
      c->mounts.push_back(std::move(im));
    }
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

std::string InitRequestToJson(const InitRequest& r) {
  nlohmann::json j;
  j["argv"] = r.argv;
  j["env"] = r.env;
  j["spawn"] = r.spawn;
  j["rlimits"] = r.rlimits;
  if (!r.op.empty()) {
    j["op"] = r.op;
    j["main"] = {{"user", r.main.user},
                 {"restart", r.main.restart},
                 {"backoff_initial_ms", r.main.backoff_initial_ms},
                 {"backoff_max_ms", r.main.backoff_max_ms},
                 {"limit_count", r.main.limit_count},
                 {"limit_window_ms", r.main.limit_window_ms}};
    j["stop_timeout_ms"] = r.stop_timeout_ms;
  }
  return j.dump();
}

bool InitRequestFromJson(const std::string& text, InitRequest* r, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    r->argv = j.value("argv", std::vector<std::string>{});
    r->env = j.value("env", std::vector<std::string>{});
    r->spawn = j.value("spawn", false);
    r->rlimits = j.value("rlimits", std::vector<std::array<uint64_t, 3>>{});
    r->op = j.value("op", std::string());
    if (const auto it = j.find("main"); it != j.end()) {
      r->main.user = it->value("user", std::string());
      r->main.restart = it->value("restart", 1);
      r->main.backoff_initial_ms = it->value("backoff_initial_ms", int64_t{1000});
      r->main.backoff_max_ms = it->value("backoff_max_ms", int64_t{60000});
      r->main.limit_count = it->value("limit_count", 5);
      r->main.limit_window_ms = it->value("limit_window_ms", int64_t{60000});
    }
    r->stop_timeout_ms = j.value("stop_timeout_ms", int64_t{0});
    if (r->op.empty() || r->op == "main.start") {
      return !r->argv.empty();
    }
    return r->op == "main.status" || r->op == "main.stop";
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

std::string InitMainStatusToJson(const InitMainStatus& s) {
  nlohmann::json j;
  j["configured"] = s.configured;
  j["running"] = s.running;
  j["pid"] = s.pid;
  j["starts"] = s.starts;
  j["restarts"] = s.restarts;
  j["gave_up"] = s.gave_up;
  j["stopped"] = s.stopped;
  j["exited"] = s.exited;
  j["exit_code"] = s.exit_code;
  j["exit_signal"] = s.exit_signal;
  j["oom_killed"] = s.oom_killed;
  j["exit_time_ms"] = s.exit_time_ms;
  j["next_start_ms"] = s.next_start_ms;
  return j.dump();
}

bool InitMainStatusFromJson(const std::string& text, InitMainStatus* s, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    s->configured = j.at("configured").get<bool>();
    s->running = j.at("running").get<bool>();
    s->pid = j.at("pid").get<int32_t>();
    s->starts = j.at("starts").get<int64_t>();
    s->restarts = j.at("restarts").get<int64_t>();
    s->gave_up = j.at("gave_up").get<bool>();
    s->stopped = j.at("stopped").get<bool>();
    s->exited = j.at("exited").get<bool>();
    s->exit_code = j.at("exit_code").get<int>();
    s->exit_signal = j.at("exit_signal").get<int>();
    s->oom_killed = j.at("oom_killed").get<bool>();
    s->exit_time_ms = j.at("exit_time_ms").get<int64_t>();
    s->next_start_ms = j.at("next_start_ms").get<int64_t>();
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

}  // namespace jailwarden::platform
