#include <nlohmann/json.hpp>

#include "platform/linux/init_oci.h"

// The OCI process's JSON codec; nlohmann's exceptions stop here.

namespace jailwarden::platform {
namespace {

nlohmann::json HooksJson(const std::vector<InitOciHook>& hooks) {
  nlohmann::json out = nlohmann::json::array();
  for (const InitOciHook& h : hooks) {
    out.push_back({{"path", h.path}, {"args", h.args}, {"env", h.env}, {"timeout", h.timeout_s}});
  }
  return out;
}

std::vector<InitOciHook> HooksFrom(const nlohmann::json& list) {
  std::vector<InitOciHook> out;
  for (const nlohmann::json& h : list) {
    out.push_back(InitOciHook{h.at("path").get<std::string>(),
                              h.value("args", std::vector<std::string>{}),
                              h.value("env", std::vector<std::string>{}), h.value("timeout", 0)});
  }
  return out;
}

}  // namespace

std::string InitOciProcessToJson(const InitOciProcess& p) {
  nlohmann::json j;
  j["args"] = p.args;
  j["env"] = p.env;
  j["cwd"] = p.cwd;
  j["uid"] = p.uid;
  j["gid"] = p.gid;
  j["additional_gids"] = p.additional_gids;
  j["rlimits"] = p.rlimits;
  j["no_new_privileges"] = p.no_new_privileges;
  j["umask"] = p.umask;
  j["console_rows"] = p.console_rows;
  j["console_cols"] = p.console_cols;
  j["fifo_fd"] = p.fifo_fd;
  j["console_fd"] = p.console_fd;
  j["preserve_fds"] = p.preserve_fds;
  j["seccomp_bpf_hex"] = p.seccomp_bpf_hex;
  j["root_readonly"] = p.root_readonly;
  j["masked_paths"] = p.masked_paths;
  j["readonly_paths"] = p.readonly_paths;
  j["start_container_hooks"] = HooksJson(p.start_container_hooks);
  j["hook_state"] = p.hook_state;
  j["hook_sync_fd"] = p.hook_sync_fd;
  j["create_container_hooks"] = HooksJson(p.create_container_hooks);
  j["create_hook_state"] = p.create_hook_state;
  return j.dump();
}

bool InitOciProcessFromJson(const std::string& text, InitOciProcess* p, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    p->args = j.at("args").get<std::vector<std::string>>();
    p->env = j.value("env", std::vector<std::string>{});
    p->cwd = j.value("cwd", std::string("/"));
    p->uid = j.value("uid", uint32_t{0});
    p->gid = j.value("gid", uint32_t{0});
    p->additional_gids = j.value("additional_gids", std::vector<uint32_t>{});
    p->rlimits = j.value("rlimits", std::vector<std::array<uint64_t, 3>>{});
    p->no_new_privileges = j.value("no_new_privileges", false);
    p->umask = j.value("umask", -1);
    p->console_rows = j.value("console_rows", 0);
    p->console_cols = j.value("console_cols", 0);
    p->fifo_fd = j.value("fifo_fd", -1);
    p->console_fd = j.value("console_fd", -1);
    p->preserve_fds = j.value("preserve_fds", 0);
    p->seccomp_bpf_hex = j.value("seccomp_bpf_hex", std::string());
    p->root_readonly = j.value("root_readonly", false);
    p->masked_paths = j.value("masked_paths", std::vector<std::string>{});
    p->readonly_paths = j.value("readonly_paths", std::vector<std::string>{});
    p->start_container_hooks = HooksFrom(j.value("start_container_hooks", nlohmann::json::array()));
    p->hook_state = j.value("hook_state", std::string());
    p->hook_sync_fd = j.value("hook_sync_fd", -1);
    p->create_container_hooks =
        HooksFrom(j.value("create_container_hooks", nlohmann::json::array()));
    p->create_hook_state = j.value("create_hook_state", std::string());
    if (p->args.empty()) {
      *error = "process.args is empty";
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

}  // namespace jailwarden::platform
