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
  j["seccomp"] = c.seccomp;
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
    c->seccomp = j.value("seccomp", std::string());
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
  return j.dump();
}

bool InitRequestFromJson(const std::string& text, InitRequest* r, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    r->argv = j.at("argv").get<std::vector<std::string>>();
    r->env = j.value("env", std::vector<std::string>{});
    r->spawn = j.value("spawn", false);
    r->rlimits = j.value("rlimits", std::vector<std::array<uint64_t, 3>>{});
    return !r->argv.empty();
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

}  // namespace jailwarden::platform
